//! Empty build script: `links = "barrow-core"` needs one, and that key is what
//! stops two copies of barrow-core (and of its process-wide registries) from
//! being linked into one binary.
fn main() {}
