"""The browser view: `app` (the SolaraViz page), `server` (serving it offline) and
`guard` (the request guard in front of it)."""
