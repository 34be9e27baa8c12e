//! The HTTP API against a server started in-process on 127.0.0.1:0, over a
//! temporary SQLite store and the sandbox's emulators. One test binary.

mod kit;
mod openapi;
mod problems;
mod roles;
mod schemathesis;
mod tokens;
mod worker;
