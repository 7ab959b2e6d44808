"""The analytics page's charts: SVG made on the server, labels escaped, bars to scale."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from edgekv.server.dashboard.charts import legend, line, short_number, stacked_bars

SVG = "{http://www.w3.org/2000/svg}"


def test_stacked_bars_are_to_scale_and_well_formed() -> None:
    chart = stacked_bars(
        "Operations per day",
        ["12-01", "12-02"],
        {"read": [60, 10], "write": [40, 0]},
    )
    root = ET.fromstring(str(chart))  # well-formed XML
    assert root.find(f"{SVG}title").text == "Operations per day"  # type: ignore[union-attr]
    rects = root.findall(f"{SVG}rect")
    assert len(rects) == 3  # a bar of 0 is not drawn
    heights = [float(r.get("height", "0")) for r in rects]
    plot = 240 - 12 - 40
    assert heights[0] + heights[1] == plot  # 100 of an axis up to 100: full height
    assert abs(heights[2] - plot / 10) < 0.1


def test_labels_are_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    chart = str(stacked_bars(hostile, [hostile], {hostile: [1]}))
    assert "<script>" not in chart and "&lt;script&gt;" in chart
    ET.fromstring(chart)
    assert "<script>" not in str(line(hostile, [hostile], [1.0]))


def test_line_and_numbers() -> None:
    chart = str(line("Hit rate", ["a", "b", "c"], [0.5, 1.0, 0.25], unit="", top=1.0))
    assert len(re.findall("<circle", chart)) == 3 and "<polyline" in chart
    assert short_number(1200) == "1.2k" and short_number(3_400_000) == "3.4M"
    assert short_number(7) == "7" and short_number(0.25) == "0.25"
    assert legend(["read", "write"])[1][0] == "write"
