"""Every matplotlib figure: `runs` (a run's plots), `sweep` (a sweep's plots) and `view`
(the cells of the browser view). Imported by the command line, the browser view and
the report writers only.
"""
