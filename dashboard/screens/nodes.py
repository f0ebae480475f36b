"""Streamlit page script; the logic lives in dashboard.views.nodes."""

from dashboard.ui import run_page
from dashboard.views import nodes

run_page(nodes.render)
