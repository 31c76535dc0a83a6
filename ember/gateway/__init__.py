"""The front doors in front of functions: function URLs, HTTP APIs (routes, integrations,
stages) and their authorizers (Lambda, JWT), CORS; requests reach them by Host.

May import `control`, `invoke`, `protocols`, `telemetry`; never `api`, `scheduler`,
`sandbox` or `server`.
"""
