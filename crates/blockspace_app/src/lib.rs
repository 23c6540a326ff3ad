//! Blockspace app.
