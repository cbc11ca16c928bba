//! placeholder (routing helper fills this in)
