"""Pure rules with no I/O: SIDs, addresses, segments, statuses, errors, paging, dates."""
