// The RESP client (issue 6): being written.
