"""Words the tool prints and draws: `wording` (counts and plurals)."""
