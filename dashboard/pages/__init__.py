"""Thin Streamlit page scripts (st.navigation runs them by file path)."""
