"""`POST /client/v4/graphql`: Cloudflare's GraphQL Analytics API for Workers KV's two datasets
(docs/analytics.md): schema.py (the types, by Cloudflare's names), datasets.py (filters,
grouping, ordering), route.py (the endpoint)."""
