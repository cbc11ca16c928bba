//! The soak's PNG plots (plotters' bitmap backend): resident memory, open file
//! descriptors and publish → deliver latency over the run, each with the warm-up
//! shaded and, for RSS and fds, the limit the end of the run is held to.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::FontStyle;

use super::verdict::{Bounds, Sample, Verdict};

/// Where a TrueType font is looked for when `--font` is not given (Debian's
/// fonts-dejavu-core, which the project's machines have).
pub const DEFAULT_FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

const SIZE: (u32, u32) = (1000, 420);

/// Registers the font plotters draws text with (once per process).
fn load_font(font: Option<&Path>) -> Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let candidates: Vec<PathBuf> = match font {
                Some(p) => vec![p.to_path_buf()],
                None => DEFAULT_FONTS.iter().map(PathBuf::from).collect(),
            };
            let (path, bytes) = candidates
                .iter()
                .find_map(|p| std::fs::read(p).ok().map(|b| (p, b)))
                .ok_or_else(|| {
                    format!(
                        "no TrueType font for the plots (tried {}); give one with --font",
                        candidates
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            // plotters keeps registered fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("{} is not a usable TrueType font", path.display()))
        })
        .clone()
}

/// One series to draw.
struct Line {
    label: &'static str,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

/// One chart: its lines, an optional dashed horizontal limit, where the legend goes.
struct Chart<'a> {
    title: &'a str,
    y_desc: &'a str,
    lines: Vec<Line>,
    limit: Option<(&'a str, f64)>,
    legend: SeriesLabelPosition,
}

/// Draws `chart` to `path` with the warm-up (the first `warmup_min` minutes) shaded.
fn draw(path: &Path, chart: Chart<'_>, warmup_min: f64, x_max: f64) -> Result<(), String> {
    let Chart {
        title,
        y_desc,
        lines,
        limit,
        legend,
    } = chart;
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let y_top = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .chain(limit.map(|l| l.1))
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.15;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut c = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..y_top)
        .map_err(|e| err(&e))?;
    c.configure_mesh()
        .x_desc("minutes since the traffic started")
        .y_desc(y_desc)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    c.draw_series(std::iter::once(Rectangle::new(
        [(0.0, 0.0), (warmup_min, y_top)],
        RGBColor(230, 230, 230).filled(),
    )))
    .map_err(|e| err(&e))?
    .label("warm-up (not judged)")
    .legend(|(x, y)| {
        Rectangle::new(
            [(x, y - 5), (x + 16, y + 5)],
            RGBColor(220, 220, 220).filled(),
        )
    });
    for l in &lines {
        let color = l.color;
        c.draw_series(LineSeries::new(
            l.points.iter().copied(),
            color.stroke_width(2),
        ))
        .map_err(|e| err(&e))?
        .label(l.label)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    if let Some((label, y)) = limit {
        let red = RGBColor(200, 30, 30);
        c.draw_series(DashedLineSeries::new(
            [(0.0, y), (x_max, y)],
            8,
            5,
            red.stroke_width(1),
        ))
        .map_err(|e| err(&e))?
        .label(label)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], red.stroke_width(1)));
    }
    c.configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Renders `rss.png`, `fds.png` and `latency.png` into `dir`; returns their paths.
pub fn render(
    dir: &Path,
    samples: &[Sample],
    verdict: Option<&Verdict>,
    bounds: &Bounds,
    duration_secs: f64,
    font: Option<&Path>,
) -> Result<Vec<PathBuf>, String> {
    load_font(font)?;
    let minutes = |s: &Sample| s.at_secs / 60.0;
    let x_max = (duration_secs / 60.0).max(samples.last().map_or(0.0, minutes));
    let warmup = bounds.warmup_secs / 60.0;
    let rss = dir.join("rss.png");
    draw(
        &rss,
        Chart {
            title: "Broker resident memory (VmRSS)",
            y_desc: "MiB",
            lines: vec![Line {
                label: "RSS",
                color: RGBColor(30, 90, 200),
                points: samples.iter().map(|s| (minutes(s), s.rss_mib)).collect(),
            }],
            limit: verdict.map(|v| ("limit for the last window's mean", v.rss_limit_mib)),
            legend: SeriesLabelPosition::LowerRight,
        },
        warmup,
        x_max,
    )?;
    let fds = dir.join("fds.png");
    draw(
        &fds,
        Chart {
            title: "Broker open file descriptors (/proc/PID/fd)",
            y_desc: "fds",
            lines: vec![Line {
                label: "open fds",
                color: RGBColor(20, 140, 60),
                points: samples.iter().map(|s| (minutes(s), s.fds as f64)).collect(),
            }],
            limit: verdict.map(|v| ("limit", v.fds_limit as f64)),
            legend: SeriesLabelPosition::LowerRight,
        },
        warmup,
        x_max,
    )?;
    let latency = dir.join("latency.png");
    let ms = |f: fn(&Sample) -> Option<u64>| -> Vec<(f64, f64)> {
        samples
            .iter()
            .filter_map(|s| f(s).map(|v| (minutes(s), v as f64 / 1000.0)))
            .collect()
    };
    draw(
        &latency,
        Chart {
            title: "Publish → deliver latency per sampling interval",
            y_desc: "ms",
            lines: vec![
                Line {
                    label: "p99",
                    color: RGBColor(200, 100, 20),
                    points: ms(|s| s.p99_us),
                },
                Line {
                    label: "p50",
                    color: RGBColor(30, 90, 200),
                    points: ms(|s| s.p50_us),
                },
            ],
            limit: None,
            legend: SeriesLabelPosition::UpperRight,
        },
        warmup,
        x_max,
    )?;
    Ok(vec![rss, fds, latency])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soak::verdict::judge;

    #[test]
    fn renders_three_pngs() {
        let samples: Vec<Sample> = (1..=30)
            .map(|i| Sample {
                at_secs: i as f64 * 10.0,
                rss_mib: 50.0 + (i % 3) as f64,
                fds: 30,
                data_dir_mib: 1.0,
                published_per_sec: 1000.0,
                delivered_per_sec: 1500.0,
                p50_us: Some(200),
                p99_us: Some(900 + i * 10),
                max_us: Some(5000),
            })
            .collect();
        let bounds = Bounds {
            warmup_secs: 60.0,
            window_secs: 60.0,
            rss_growth_fraction: 0.1,
            rss_slack_mib: 16.0,
            fd_slack: 8,
        };
        let verdict = judge(&samples, 300.0, &bounds);
        assert!(verdict.is_some());
        let dir = tempfile::tempdir().unwrap();
        let files = render(dir.path(), &samples, verdict.as_ref(), &bounds, 300.0, None)
            .expect("plots render (needs fonts-dejavu-core)");
        assert_eq!(files.len(), 3);
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            assert!(
                bytes.starts_with(b"\x89PNG"),
                "{} is not a PNG",
                f.display()
            );
            assert!(bytes.len() > 5_000, "{} is nearly empty", f.display());
        }
    }
}
