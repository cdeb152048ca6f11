//! Any text as a zone file: problems with positions, or a zone; never a panic or a hang.
//! Seed corpus: fuzz/corpus/zone (the bundled and example zones).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let path = std::path::Path::new("fuzz.yaml");
        if let Err(problems) = switchyard::config::load_zone_text(path, text) {
            assert!(!problems.is_empty());
        }
    }
});
