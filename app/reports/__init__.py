"""Pure functions: scoped rows → xlsx / csv / pdf / chart data. No request objects below views."""
