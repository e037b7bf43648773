"""The Gmail add-on (UI-2): a Google Workspace add-on served over HTTP as Card v1 JSON.

`routes` verifies every request (`auth`), `actions` gathers what the services decide, `cards`
turns it into JSON, `state` signs what a card hands back, `gmail_api` reads the open message.
"""
