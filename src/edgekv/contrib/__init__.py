"""Integrations: `edgekv.contrib.fastapi` (FastAPI/Starlette) and `edgekv.contrib.django`.

Each imports its framework lazily: install the extra you use (`pip install 'edgekv[django]'`).
"""
