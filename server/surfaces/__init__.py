"""The surfaces: Outlook pane helpers, Gmail add-on cards, web app pages."""
