"""noisefleet dashboard: Streamlit pages for operators (built by a later issue)."""
