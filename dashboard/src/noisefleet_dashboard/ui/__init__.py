"""The Streamlit pages: layout only; data from ``noisefleet_dashboard.data``, logic in the pure
modules (``formatting``, ``compliance``, ``resolution``, ``access``)."""
