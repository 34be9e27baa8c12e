//! The HTTP API against a server started in-process on 127.0.0.1:0, over a
//! temporary SQLite store and the sandbox's emulators. One test binary.

mod door;
mod kit;
mod openapi;
mod problems;
mod roles;
mod signin;
mod tokens;
mod worker;
