//! The command line: argument errors exit with code 2 and a clear message; data errors exit 1.

mod common;

fn vanishing(args: &[&str]) -> (i32, String) {
    let out = common::vanishing_command()
        .args(args)
        .output()
        .expect("binary runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn info_json_reports_the_measured_peaks_and_saves_per_machine() {
    let dir = std::env::temp_dir().join(format!("vanishing-info-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = common::vanishing_command()
        .args(["info", "--json", "--save"])
        .arg(&dir)
        .output()
        .expect("binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info --json is JSON");
    let slug = v["slug"].as_str().expect("slug");
    assert!(
        !slug.is_empty()
            && slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "slug {slug:?} is not a safe folder name"
    );
    let family = v["kernel_family"].as_str().expect("family");
    let peak = v["peak_in_use_gflops"].as_f64();
    if family == "scalar" {
        assert!(peak.is_none(), "no vector peak for the scalar family");
    } else {
        // A measured, finite, positive rate below 10 TFLOP/s (an emulated aarch64 core under
        // qemu runs below 1 GFLOP/s, so no lower bound beyond zero).
        assert!(peak.is_some_and(|p| p > 0.0 && p < 1e4), "{peak:?}");
    }
    let bw = v["memory_bandwidth_gbs"].as_f64().expect("bandwidth");
    assert!(bw > 0.1 && bw < 1e4, "{bw}");
    let saved = std::fs::read_to_string(dir.join(slug).join("info.json")).expect("saved");
    let saved: serde_json::Value = serde_json::from_str(&saved).expect("saved JSON");
    assert_eq!(saved["slug"], v["slug"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_and_info_work() {
    let (code, text) = vanishing(&["--help"]);
    assert_eq!(code, 0);
    for sub in ["info", "train", "reproduce"] {
        assert!(text.contains(sub), "--help lists {sub}");
    }
    let (code, text) = vanishing(&["info"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("gemm kernel:")
            && text.contains("gemm blocking:")
            && text.contains("threads:")
            && text.contains("fma peak:")
            && text.contains("GB/s"),
        "{text}"
    );
}

#[test]
fn malformed_arguments_exit_2() {
    for (args, needle) in [
        (
            &["train", "--layers", "784,abc"][..],
            "'abc' is not a layer width",
        ),
        (&["train", "--epochs", "0"][..], "epochs"),
        (
            &["train", "--layers", "100,30,10"][..],
            "first layer must be 784",
        ),
        (
            &["train", "--layers", "784,30,7"][..],
            "last layer must be 10",
        ),
        (&["train", "--batch", "0"][..], "batch"),
        (&["train", "--eta=-1"][..], "eta"),
        (&["train", "--threads", "0"][..], "threads"),
        (&["train", "--init", "bogus"][..], "bogus"),
        (&["train", "--epochs", "x"][..], "invalid value"),
        (&["train", "--momentum", "1"][..], "momentum"),
        (&["train", "--momentum-schedule", "fast"][..], "fast"),
        (
            &[
                "reproduce",
                "--seeds",
                "5000",
                "--out",
                "/tmp/vanishing-never",
            ][..],
            "accuracy seeds must be 0 to 1000",
        ),
    ] {
        let (code, text) = vanishing(args);
        assert_eq!(code, 2, "{args:?} should exit 2, printed: {text}");
        assert!(
            text.contains(needle),
            "{args:?}: message should mention '{needle}': {text}"
        );
    }
}

#[test]
fn missing_data_is_a_clear_error_and_leaves_the_json_alone() {
    let json = std::env::temp_dir().join(format!("vanishing-cli-{}.json", std::process::id()));
    std::fs::write(&json, "previous").unwrap();
    let (code, text) = vanishing(&[
        "train",
        "--epochs",
        "1",
        "--data",
        "/nonexistent/mnist",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("/nonexistent/mnist") && text.contains("does not exist"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(&json).unwrap(),
        "previous",
        "a failed run must not touch the record"
    );
    let _ = std::fs::remove_file(json);
}

#[test]
fn a_short_training_run_learns_and_writes_its_record() {
    let json = std::env::temp_dir().join(format!("vanishing-cli-run-{}.json", std::process::id()));
    let (code, text) = vanishing(&[
        "train",
        "--epochs",
        "2",
        "--batch",
        "10",
        "--threads",
        "1",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("epoch   1") && text.contains("final validation accuracy"),
        "{text}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let acc = v["final_validation_accuracy"].as_f64().unwrap();
    // Two epochs of the book's [784,30,10] reach about 94 %; far below means training is broken.
    assert!(acc > 0.90, "validation accuracy after 2 epochs: {acc}");
    assert_eq!(v["epochs"].as_array().unwrap().len(), 2);
    assert_eq!(v["config"]["layers"], serde_json::json!([784, 30, 10]));
    assert!(v["machine"]["gemm_kernel"]
        .as_str()
        .unwrap()
        .starts_with("sgemm."));
    let _ = std::fs::remove_file(json);
}

#[test]
fn a_saved_gemm_profile_is_used_and_a_broken_one_is_reported_not_used() {
    let dir = std::env::temp_dir().join(format!("vanishing-profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let info = |extra: &[(&str, &str)]| {
        let mut cmd = common::vanishing_command();
        cmd.args(["info", "--json"])
            .env("VANISHING_CACHE_DIR", &dir);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("binary runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
    };
    let v = info(&[]);
    let family = v["kernel_family"].as_str().unwrap().to_string();
    if family == "scalar" {
        println!("skipped: no SIMD family, so nothing to tune on this CPU");
        return;
    }
    assert!(
        v["gemm_profile"].as_str().unwrap().starts_with("none at"),
        "{v}"
    );
    let path = dir.join(format!(
        "gemm-profile-{}-{family}.json",
        v["slug"].as_str().unwrap()
    ));
    // A broken file: reported, and the defaults run.
    std::fs::write(&path, "{ not json").unwrap();
    let v = info(&[]);
    assert!(
        v["gemm_profile"].as_str().unwrap().starts_with("unusable"),
        "{v}"
    );
    let default_kernel = v["gemm_kernel"].as_str().unwrap().to_string();
    // A valid profile naming the family's last kernel and odd blocks: used by Gemm::new.
    let kernels: Vec<String> = v["gemm_kernels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .filter(|k| k.contains(&format!(".{family}.")))
        .collect();
    let chosen = kernels.last().unwrap();
    let profile = serde_json::json!({
        "cpu": v["slug"], "isa": family, "kernel": chosen,
        "blocking": {"mc": 24, "kc": 100, "nc": 512},
        "relative_time": 0.9, "trials": []
    });
    std::fs::write(&path, profile.to_string()).unwrap();
    let v = info(&[]);
    assert_eq!(v["gemm_kernel"].as_str().unwrap(), chosen);
    assert_eq!(v["blocking"]["kc"], 100, "{v}");
    // VANISHING_PROFILE=off ignores it.
    let v = info(&[("VANISHING_PROFILE", "off")]);
    assert_eq!(v["gemm_kernel"].as_str().unwrap(), default_kernel);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unwritable_outputs_fail_before_any_work() {
    // /proc refuses new entries even for root: every output below is unwritable. Each command
    // must say so, naming the path once, with exit code 2, before it computes anything (the
    // work behind these takes from seconds to the better part of a minute).
    // (arguments, environment, the path the message must name)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 9] = [
        (
            &["reproduce", "--quick", "--out", "/proc/nope"],
            &[],
            "/proc/nope",
        ),
        (
            &[
                "reproduce",
                "--quick",
                "--shard",
                "0/2",
                "--out",
                "/proc/nope",
            ],
            &[],
            "/proc/nope/shard-0-of-2.json",
        ),
        (&["merge", "/tmp", "--out", "/proc/nope"], &[], "/proc/nope"),
        (
            &["train", "--epochs", "1", "--json", "/proc/nope/x.json"],
            &[],
            "/proc/nope/x.json",
        ),
        (&["info", "--save", "/proc/nope"], &[], "/proc/nope/"),
        (
            &["tune"],
            &[("VANISHING_CACHE_DIR", "/proc/nope")],
            "/proc/nope/gemm-profile-",
        ),
        (
            &["perf-gate", "--update", "--baseline", "/proc/nope/b.json"],
            &[],
            "/proc/nope/b.json",
        ),
        (
            &[
                "perf-gate",
                "--base",
                "HEAD",
                "--bmf",
                "/proc/nope/bmf.json",
            ],
            &[],
            "/proc/nope/bmf.json",
        ),
        (
            &["perf-gate", "--base", "HEAD"],
            &[("GITHUB_STEP_SUMMARY", "/proc/nope/summary.md")],
            "/proc/nope/summary.md",
        ),
    ];
    for (args, env, path) in cases {
        let start = std::time::Instant::now();
        let out = common::vanishing_command()
            .args(args)
            .envs(env.iter().copied())
            .output()
            .expect("binary runs");
        let secs = start.elapsed().as_secs_f64();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains("cannot write"), "{args:?}: {text}");
        assert_eq!(
            text.matches(path).count(),
            1,
            "{args:?} names {path} once: {text}"
        );
        // Generous against a loaded machine; the work itself takes far longer.
        assert!(secs < 5.0, "{args:?} took {secs:.1} s to fail");
    }
}

#[test]
fn the_ab_gate_refuses_bad_arguments_with_exit_2() {
    for (args, needle) in [
        (
            &["perf-gate", "--base", "HEAD", "--only", "nosuch"][..],
            "nosuch",
        ),
        (
            &["perf-gate", "--base", "HEAD", "--threshold", "0"][..],
            "threshold",
        ),
        (
            &["perf-gate", "--base", "HEAD", "--seconds", "0"][..],
            "seconds",
        ),
    ] {
        let (code, text) = vanishing(args);
        assert_eq!(code, 2, "{args:?}: {text}");
        assert!(text.contains(needle), "{args:?}: {text}");
    }
}

#[test]
fn machines_readme_is_generated_from_records_and_checked() {
    let dir = std::env::temp_dir().join(format!("vanishing-machines-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/machines");
    // Two machines' committed records, copied: records merge by copying files.
    for slug in ["intel-xeon-f6-m167", "intel-xeon-f6-m207"] {
        std::fs::create_dir_all(dir.join(slug)).unwrap();
        for f in std::fs::read_dir(committed.join(slug)).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            if name.starts_with("record-") {
                std::fs::copy(f.path(), dir.join(slug).join(name)).unwrap();
            }
        }
    }
    let d = dir.to_str().unwrap();
    let (code, text) = vanishing(&["machines", "--dir", d, "--check"]);
    assert_eq!(code, 1, "no README yet: stale. {text}");
    assert!(text.contains("run `vanishing machines`"), "{text}");
    let (code, text) = vanishing(&["machines", "--dir", d]);
    assert_eq!(code, 0, "{text}");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("`intel-xeon-f6-m167`") && readme.contains("`intel-xeon-f6-m207`"));
    let (code, text) = vanishing(&["machines", "--dir", d, "--check"]);
    assert_eq!(code, 0, "{text}");
    // A hand edit is caught.
    std::fs::write(dir.join("README.md"), readme.replace("GFLOP/s", "GF")).unwrap();
    let (code, _) = vanishing(&["machines", "--dir", d, "--check"]);
    assert_eq!(code, 1);
    let (code, text) = vanishing(&[
        "machines",
        "--dir",
        d,
        "--compare",
        "intel-xeon-f6-m167",
        "intel-xeon-f6-m207",
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("sgemm-1024") && l.ends_with('x')),
        "{text}"
    );
    // A broken record is refused, by file and field.
    std::fs::write(
        dir.join("intel-xeon-f6-m167/record-broken.json"),
        "{\"schema_version\": 1, \"source\": 3}",
    )
    .unwrap();
    let (code, text) = vanishing(&["machines", "--dir", d, "--check"]);
    assert_eq!(code, 1);
    assert!(
        text.contains("record-broken.json") && text.contains("'source'"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
