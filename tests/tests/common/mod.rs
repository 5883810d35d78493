//! Helpers shared by the real-sandbox test files.
#![allow(dead_code)]

pub mod backup;
