"""The browser view: `app` (the SolaraViz page), `why` (its cell "Why it moved"), `server`
(serving it offline) and `guard` (the request guard in front of it)."""
