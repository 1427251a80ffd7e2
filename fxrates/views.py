"""FX pages: the rates in force, each pair's last 24 hours as a chart, and the spikes."""

from django.shortcuts import render
from django.utils import timezone

from deltran.roles import capability_required
from fxrates.charts import rate_chart
from fxrates.selectors import rate_board

CHART_HOURS = 24
MAX_CHART_POINTS = 300


@capability_required("reference.view")
def rates_page(request):
    board = rate_board(end=timezone.now(), hours=CHART_HOURS, max_points=MAX_CHART_POINTS)
    charts = [rate_chart(row, start=board.start, end=board.end) for row in board.rows]
    return render(request, "fxrates/rates.html", {"board": board, "charts": charts})
