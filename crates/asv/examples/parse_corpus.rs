//! Times `parse_results` over every results file in the folders given.
//!
//! Files are read into memory first, so the time covers parsing only, on one
//! thread. With `--json-only`, only the JSON parser runs:
//!
//!     cargo run --release -p pitot-asv --example parse_corpus -- [--json-only] FOLDER...

use std::path::{Path, PathBuf};
use std::time::Instant;

use pitot_asv::folder::is_results_file_name;
use pitot_asv::json::{self, Syntax};
use pitot_asv::parse_results;

fn main() {
    let mut json_only = false;
    let mut folders = Vec::new();
    for argument in std::env::args_os().skip(1) {
        if argument == "--json-only" {
            json_only = true;
        } else {
            folders.push(PathBuf::from(argument));
        }
    }
    if folders.is_empty() {
        eprintln!("usage: parse_corpus [--json-only] FOLDER...");
        std::process::exit(2);
    }

    let mut files = Vec::new();
    for folder in &folders {
        collect(folder, &mut files);
    }
    let contents: Vec<Vec<u8>> = files
        .iter()
        .map(|path| {
            std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        })
        .collect();
    let megabytes = contents.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;

    let start = Instant::now();
    let mut parsed = 0;
    let mut values = 0;
    for content in &contents {
        if json_only {
            parsed += usize::from(json::parse(content, Syntax::Python).is_ok());
        } else if let Ok(file) = parse_results(content) {
            parsed += 1;
            values += file
                .benchmarks
                .iter()
                .map(|benchmark| benchmark.outcomes.len())
                .sum::<usize>();
        }
    }
    let seconds = start.elapsed().as_secs_f64();

    println!(
        "{} files ({megabytes:.1} MB): {parsed} parsed, {values} values in {seconds:.3} s ({:.0} MB/s)",
        contents.len(),
        megabytes / seconds
    );
}

fn collect(folder: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(folder).unwrap_or_else(|error| panic!("{}: {error}", folder.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(is_results_file_name)
        {
            files.push(path);
        }
    }
}
