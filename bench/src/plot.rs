//! `plot.svg`, written by hand: time per message against message size, log–log, one line per
//! mechanism with its min–max whiskers, memcpy as the limit, and the crossovers marked. Plain
//! SVG 1.1 with generic font families, so it needs no fonts or libraries to make and shows the
//! same in any browser.

use std::fmt::Write as _;

use crate::report::{Results, approx_size};
use crate::run::human_size;

const WIDTH: f64 = 1020.0;
const HEIGHT: f64 = 640.0;
/// The plotting area.
const LEFT: f64 = 80.0;
const RIGHT: f64 = 760.0;
const TOP: f64 = 90.0;
const BOTTOM: f64 = 580.0;

/// Colour and dash pattern of each line.
fn style(mechanism: &str) -> (&'static str, &'static str) {
    match mechanism {
        "memcpy" => ("#000000", "2 4"),
        "pipe" => ("#d62728", ""),
        "unix-socket" => ("#ff7f0e", ""),
        "sysv-msgq" => ("#8c564b", ""),
        "posix-mq" => ("#e377c2", ""),
        "sysv-shm-once" => ("#1f77b4", ""),
        "posix-shm-once" => ("#17becf", ""),
        "sysv-shm-per-message" => ("#2ca02c", "8 4"),
        "posix-shm-per-message" => ("#9467bd", "8 4"),
        _ => ("#7f7f7f", "1 2"),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A duration in microseconds as a tick label: `100 ns`, `1 µs`, `10 ms`, `1 s`.
fn time_label(us: f64) -> String {
    if us < 1.0 {
        format!("{} ns", (us * 1e3).round())
    } else if us < 1e3 {
        format!("{} µs", us.round())
    } else if us < 1e6 {
        format!("{} ms", (us / 1e3).round())
    } else {
        format!("{} s", (us / 1e6).round())
    }
}

/// The plot of the first placement of the throughput sweep.
pub fn svg(results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>"#
    );
    let placement = results.stream_placements().into_iter().next();
    let Some(placement) = placement else {
        let _ = writeln!(
            out,
            r#"<text x="20" y="40">no time-per-message records</text></svg>"#
        );
        return out;
    };
    let records: Vec<_> = results.select("time_per_message", &placement).collect();
    let sizes: Vec<usize> = {
        let mut s: Vec<usize> = records.iter().map(|r| r.size_bytes).collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    let lo = records
        .iter()
        .map(|r| r.min)
        .fold(f64::INFINITY, f64::min)
        .max(1e-4);
    let hi = records
        .iter()
        .map(|r| r.max)
        .fold(0.0, f64::max)
        .max(lo * 10.0);
    let (y0, y1) = (lo.log10().floor(), hi.log10().ceil());
    let (x0, x1) = (
        (sizes[0] as f64).log2() - 0.5,
        (*sizes.last().expect("not empty") as f64).log2() + 0.5,
    );
    let x = |size: f64| LEFT + (size.log2() - x0) / (x1 - x0) * (RIGHT - LEFT);
    let y = |us: f64| BOTTOM - (us.max(lo).log10() - y0) / (y1 - y0) * (BOTTOM - TOP);

    let m = &results.machine;
    let _ = writeln!(
        out,
        r##"<text x="{LEFT}" y="28" font-size="17" font-weight="bold">Time per message, streaming one way ({p}): copy versus map</text>
<text x="{LEFT}" y="48" fill="#444">{cpu}, {n} CPUs, load {l0:.1}–{l1:.1}; median of {reps} runs, whiskers min–max. Lower is faster.</text>"##,
        p = escape(&placement),
        cpu = escape(&m.cpu_model),
        n = m.cpus_online,
        l0 = m.loadavg_start[0],
        l1 = m.loadavg_end[0],
        reps = results.config.reps,
    );

    // Grid and axes.
    let _ = writeln!(out, r##"<g stroke="#dddddd" stroke-width="1">"##);
    for s in &sizes {
        let _ = writeln!(
            out,
            r#"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{BOTTOM}"/>"#,
            x(*s as f64)
        );
    }
    for e in (y0 as i32)..=(y1 as i32) {
        let yy = y(10f64.powi(e));
        let _ = writeln!(
            out,
            r#"<line x1="{LEFT}" y1="{yy:.1}" x2="{RIGHT}" y2="{yy:.1}"/>"#
        );
    }
    let _ = writeln!(out, "</g>");
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{w}" height="{h}" fill="none" stroke="#333333"/>"##,
        w = RIGHT - LEFT,
        h = BOTTOM - TOP
    );
    for s in &sizes {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x(*s as f64),
            BOTTOM + 18.0,
            human_size(*s)
        );
    }
    for e in (y0 as i32)..=(y1 as i32) {
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            y(10f64.powi(e)) + 4.0,
            time_label(10f64.powi(e))
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{}" text-anchor="middle">message size (log scale)</text>
<text transform="translate(22 {:.1}) rotate(-90)" text-anchor="middle">time per message (log scale)</text>"#,
        (LEFT + RIGHT) / 2.0,
        BOTTOM + 42.0,
        (TOP + BOTTOM) / 2.0
    );

    // Crossovers, under the lines.
    let mut row = 0;
    for c in results
        .crossovers
        .iter()
        .filter(|c| c.placement == placement)
    {
        let colour = if c.challenger.contains("once") {
            "#1f77b4"
        } else {
            "#2ca02c"
        };
        let who = if c.challenger.contains("once") {
            "shared memory mapped once"
        } else {
            "mapping per message"
        };
        for k in &c.crossings {
            let xx = x(k.size_bytes);
            let verb = if k.challenger_faster_above {
                "beats"
            } else {
                "loses to"
            };
            let label = format!("{who} {verb} copying above ≈ {}", approx_size(k.size_bytes));
            let ty = TOP - 24.0 + 14.0 * f64::from(row % 2);
            let anchor = if xx > (LEFT + RIGHT) / 2.0 {
                "end"
            } else {
                "start"
            };
            let tx = if anchor == "end" { xx - 4.0 } else { xx + 4.0 };
            let _ = writeln!(
                out,
                r#"<line x1="{xx:.1}" y1="{ly}" x2="{xx:.1}" y2="{BOTTOM}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="3 3"/>
<text x="{tx:.1}" y="{ty}" fill="{colour}" text-anchor="{anchor}" font-weight="bold">{}</text>"#,
                escape(&label),
                ly = ty - 10.0,
            );
            row += 1;
        }
    }

    // One line per mechanism, memcpy first.
    let mut names: Vec<&str> = Vec::new();
    for r in &records {
        if !names.contains(&r.mechanism.as_str()) {
            names.push(&r.mechanism);
        }
    }
    names.sort_by_key(|n| *n != "memcpy");
    for (i, name) in names.iter().enumerate() {
        let (colour, dash) = style(name);
        let mut points: Vec<_> = records.iter().filter(|r| r.mechanism == *name).collect();
        points.sort_by_key(|r| r.size_bytes);
        let path: Vec<String> = points
            .iter()
            .map(|r| format!("{:.1},{:.1}", x(r.size_bytes as f64), y(r.median)))
            .collect();
        let dash_attr = if dash.is_empty() {
            String::new()
        } else {
            format!(r#" stroke-dasharray="{dash}""#)
        };
        let _ = writeln!(
            out,
            r#"<g stroke="{colour}" fill="{colour}"><polyline points="{}" fill="none" stroke-width="2"{dash_attr}/>"#,
            path.join(" ")
        );
        for r in &points {
            let xx = x(r.size_bytes as f64);
            let _ = writeln!(
                out,
                r#"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}" stroke-width="1"/><circle cx="{xx:.1}" cy="{:.1}" r="2.5"/>"#,
                y(r.min),
                y(r.max),
                y(r.median)
            );
        }
        let _ = writeln!(out, "</g>");
        // Legend entry.
        let ly = TOP + 10.0 + 20.0 * i as f64;
        let family = points.first().map_or("", |r| r.family.as_str());
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" y1="{ly}" x2="{lx2}" y2="{ly}" stroke="{colour}" stroke-width="2"{dash_attr}/>
<text x="{tx}" y="{ty}">{}</text>"#,
            escape(name),
            lx = RIGHT + 20.0,
            lx2 = RIGHT + 50.0,
            tx = RIGHT + 56.0,
            ty = ly + 4.0,
        );
        let _ = family;
    }
    let notes_y = TOP + 20.0 * names.len() as f64 + 20.0;
    let notes = [
        "memcpy: one copy in one process,",
        "the least any transfer pays",
        "red–brown: message passing",
        "blue: shared memory mapped once",
        "dashed: mapped per message",
    ];
    for (i, note) in notes.iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" fill="#555555" font-size="11">{}</text>"##,
            RIGHT + 20.0,
            notes_y + 14.0 * i as f64,
            escape(note)
        );
    }
    out.push_str("</svg>\n");
    out
}
