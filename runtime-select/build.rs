//! Declares the `tokio_unstable` cfg, which users set (`RUSTFLAGS="--cfg tokio_unstable"`) to
//! reach tokio's unstable knobs such as `disable_lifo_slot`; without this the `cfg` would warn.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tokio_unstable)");
    println!("cargo::rerun-if-changed=build.rs");
}
