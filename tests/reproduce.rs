//! `reproduce` on reduced settings: the pipeline end to end, determinism, the chapter's
//! ordering of layer speeds, the exercise's numbers, and shards merged equal to one run.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use vanishing::data::mnist::{self, Mnist};
use vanishing::experiments::arithmetic;
use vanishing::experiments::initial_speeds::InitialSpeeds;
use vanishing::experiments::run as xrun;
use vanishing::experiments::{self as x, Plan, Settings};
use vanishing::meta::Machine;
use vanishing::pipeline::Finished;

fn data() -> &'static Mnist {
    static D: OnceLock<Mnist> = OnceLock::new();
    D.get_or_init(|| mnist::load(&mnist::resolve_dir(None)).expect("shipped MNIST"))
}

fn tiny() -> Settings {
    Settings {
        base_seed: 3,
        accuracy_seeds: 1,
        accuracy_epochs: 1,
        speed_seeds: 6,
        curve_iterations: 4,
        better98_epochs: 1,
        sweep_seeds: 2,
        sweep_max_depth: 3,
        batch_images: 300,
        saturation_seeds: 1,
        saturation_epochs: 1,
        saturation_images: 200,
        depth_seeds: 1,
        depth_epochs: 1,
        depth_images: 200,
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vanishing-repro-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A plan of the named parts.
fn plan_of(settings: Settings, parts: &[&str]) -> Plan {
    Plan {
        settings,
        parts: parts.iter().map(|p| p.to_string()).collect(),
    }
}

fn run(plan: &Plan, threads: usize) -> Vec<(Value, f64)> {
    common::with_threads(threads, || {
        xrun::run_items(plan, data(), None, &|_| {}).unwrap().2
    })
}

/// Training seconds are measurements, not results: removed (at any depth) before comparing.
fn drop_train_seconds(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove("train_seconds");
            o.values_mut().for_each(drop_train_seconds);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_train_seconds),
        _ => {}
    }
}

fn without_times(r: &[(Value, f64)]) -> Vec<String> {
    r.iter()
        .map(|(x, _)| {
            let mut v = x.clone();
            drop_train_seconds(&mut v);
            v.to_string()
        })
        .collect()
}

#[test]
fn pipeline_writes_every_output_with_the_expected_schema() {
    let plan = Plan::all(tiny());
    let results = run(&plan, 2);
    let out = tmp("pipeline");
    std::fs::create_dir_all(&out).unwrap();
    // A previous report survives only until a successful run replaces it.
    std::fs::write(out.join("chapter5.md"), "old").unwrap();
    let items = plan.items().unwrap();
    let run = Finished {
        plan: &plan,
        items: &items,
        results: &results,
        machine: Machine::current(2),
        total_wall_seconds: 1.0,
        shards: None,
    };
    vanishing::pipeline::publish(&out, &run).unwrap();
    let md = std::fs::read_to_string(out.join("chapter5.md")).unwrap();
    for heading in [
        "## 1. Accuracy",
        "## 2. Initial speed",
        "## 3. Speed of learning",
        "## 4. The arithmetic",
        "## 5. Chapter 3",
        "## 6. Beyond the book",
    ] {
        assert!(md.contains(heading), "report lacks {heading}");
    }
    let dir = out.join("chapter5");
    for f in [
        "accuracy.svg",
        "initial-speeds.svg",
        "curves-2.svg",
        "curves-3.svg",
        "curves-4.svg",
        "beyond.svg",
    ] {
        let svg = std::fs::read_to_string(dir.join(f)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("<text") && svg.len() > 2000,
            "{f} is not a drawn chart"
        );
    }
    let json = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap()
    };
    let acc = json("accuracy.json");
    assert_eq!(acc.as_array().unwrap().len(), 4);
    for k in [
        "layers",
        "book_percent",
        "final_median",
        "best_median",
        "final_percent",
        "median_minus_book",
    ] {
        assert!(acc[0].get(k).is_some(), "accuracy.json lacks {k}");
    }
    let speeds = json("initial-speeds.json");
    assert_eq!(speeds[0].as_array().unwrap().len(), 3);
    assert!(speeds[0][2]["p10"].as_array().unwrap().len() == 4);
    assert_eq!(
        json("curves.json").as_array().unwrap()[2]["speeds"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert!(json("arithmetic.json")["exercise_max_width"]
        .as_f64()
        .is_some());
    assert_eq!(json("beyond.json").as_array().unwrap().len(), 3 * 4 * 3);
    let meta = json("meta.json");
    for k in [
        "machine",
        "plan",
        "seeds",
        "item_seconds_per_part",
        "total_wall_seconds",
    ] {
        assert!(meta.get(k).is_some(), "meta.json lacks {k}");
    }
    assert!(meta["machine"]["rustc"].as_str().unwrap().contains("rustc"));
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn same_seed_same_numbers_for_any_thread_count() {
    let plan = plan_of(
        tiny(),
        &["initial-speeds", "curves", "beyond", "arithmetic"],
    );
    let one = without_times(&run(&plan, 1));
    assert_eq!(one, without_times(&run(&plan, 2)));
    assert_eq!(one, without_times(&run(&plan, 3)));
}

#[test]
fn each_sigmoid_hidden_layer_learns_slower_than_the_next() {
    let mut s = tiny();
    s.speed_seeds = 12;
    s.batch_images = 1000;
    let plan = plan_of(s, &["initial-speeds"]);
    let outputs: Vec<Value> = run(&plan, 2).into_iter().map(|r| r.0).collect();
    let summary = x::summarise(
        &InitialSpeeds,
        &outputs.iter().collect::<Vec<_>>(),
        &plan.settings,
    )
    .unwrap();
    assert_eq!(summary.rows.len(), 3);
    for row in &summary.rows {
        for w in row.median.windows(2) {
            assert!(
                w[0] < w[1],
                "{} hidden: medians {:?} not increasing towards the output",
                row.hidden_layers,
                row.median
            );
        }
    }
}

#[test]
fn the_exercise_and_the_chain_arithmetic() {
    let a = arithmetic::compute(1, 20_000);
    assert_eq!(a.sigma_prime_at_0, 0.25);
    assert!(
        (a.exercise_argmax_w - 6.894).abs() < 0.01,
        "argmax {}",
        a.exercise_argmax_w
    );
    assert!(
        (a.exercise_max_width - 0.4477).abs() < 5e-4,
        "max width {}",
        a.exercise_max_width
    );
    for p in &a.exercise {
        assert!(
            (p.formula - p.scan).abs() <= 3e-4,
            "|w| = {}: formula {} vs scan {}",
            p.w,
            p.formula,
            p.scan
        );
    }
    assert_eq!(a.exploding_factor, 25.0);
    assert_eq!(a.exploding_ratio_first_to_last, 15_625.0);
    assert!(a.chain_fraction_below_one > 0.99 && a.chain_factor_median < 0.25);
    assert_eq!(arithmetic::width_formula(3.9), 0.0);
}

#[test]
fn shards_merged_equal_a_single_run() {
    let plan = plan_of(
        tiny(),
        &["initial-speeds", "curves", "arithmetic", "beyond"],
    );
    let single = run(&plan, 2);
    let dir = tmp("shards");
    for i in 0..3 {
        let (pos, items, res) = xrun::run_items(&plan, data(), Some((i, 3)), &|_| {}).unwrap();
        let file = xrun::ShardFile {
            plan: plan.clone(),
            index: i,
            count: 3,
            results: pos
                .into_iter()
                .zip(items)
                .zip(res)
                .map(|((p, it), (r, s))| (p, it, r, s))
                .collect(),
            machine: Machine::current(1),
        };
        xrun::write_shard(&dir, &file).unwrap();
    }
    let (mplan, _, merged, count) = xrun::merge(std::slice::from_ref(&dir)).unwrap();
    assert_eq!((mplan, count), (plan.clone(), 3));
    assert_eq!(without_times(&merged), without_times(&single));
    // The reports built from both are identical apart from timings and machine metadata.
    let (a, b) = (tmp("shards-merged"), tmp("shards-single"));
    let items = plan.items().unwrap();
    for (out, results) in [(&a, &merged), (&b, &single)] {
        let run = Finished {
            plan: &plan,
            items: &items,
            results,
            machine: Machine::current(1),
            total_wall_seconds: 1.0,
            shards: None,
        };
        vanishing::pipeline::publish(out, &run).unwrap();
    }
    assert_eq!(
        vanishing::experiments::compare::comparable_results(&a).unwrap(),
        vanishing::experiments::compare::comparable_results(&b).unwrap()
    );
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
    // A missing shard is an error that says so.
    std::fs::remove_file(dir.join(xrun::shard_file_name(1, 3))).unwrap();
    let err = xrun::merge(std::slice::from_ref(&dir))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing"), "{err}");
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}
