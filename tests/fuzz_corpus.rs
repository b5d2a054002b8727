//! Replays the fuzz corpus (`fuzz/corpus/<target>/`, grown by cargo-fuzz runs; see
//! `fuzz/Cargo.toml`) through the same entry points the fuzz targets call
//! (`vanishing::fuzzing`), on stable, so every parser of outside bytes keeps its properties on
//! every input the fuzzer found interesting, including any that once failed.

use std::path::Path;

#[test]
fn every_corpus_input_keeps_its_parsers_properties() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, target) in vanishing::fuzzing::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "the corpus of '{name}' is empty");
        for f in &files {
            let data = std::fs::read(f).expect("a corpus file reads");
            let run = std::panic::catch_unwind(|| target(&data));
            assert!(run.is_ok(), "fuzz target '{name}' fails on {}", f.display());
        }
        println!("{name}: {} inputs", files.len());
    }
}
