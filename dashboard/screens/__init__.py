"""Thin Streamlit page scripts run by st.navigation (not named pages/: Streamlit would
auto-discover that folder and run its scripts without app.py on a deep link)."""
