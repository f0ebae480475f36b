"""Streamlit page script; the logic lives in dashboard.views.models."""

from dashboard.ui import run_page
from dashboard.views import models

run_page(models.render)
