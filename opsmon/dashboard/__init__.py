"""The Dash app for provincial supervisors. Nothing imports this package."""
