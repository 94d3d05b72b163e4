//! Request handlers, one module per API (the server dispatches to them).
