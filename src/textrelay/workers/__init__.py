"""Workers: the loops that run due jobs (dispatch, carrier reports, callbacks)."""
