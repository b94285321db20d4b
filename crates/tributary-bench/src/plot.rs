//! PNG line charts of the scaling curves, drawn with `plotters` on its bitmap backend.
//!
//! Text needs a TrueType font; plotters' `ab_glyph` renderer takes one registered by bytes, so
//! no fontconfig is linked. DejaVu Sans is read from the usual Linux locations (or
//! `$TRIBUTARY_BENCH_FONT`); without one the chart is skipped with a note, never the run.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, anyhow};
use plotters::prelude::*;

/// One curve: a name for the legend and its points in data units.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
        }
    }
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// Logarithmic axes, for curves over sizes spanning decades (10k, 100k, 1M).
    pub log_x: bool,
    pub log_y: bool,
}

const FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers the font once per process; the error says where it looked.
fn font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let candidates: Vec<PathBuf> = std::env::var_os("TRIBUTARY_BENCH_FONT")
                .map(PathBuf::from)
                .into_iter()
                .chain(FONT_PATHS.iter().map(PathBuf::from))
                .collect();
            let Some(bytes) = candidates.iter().find_map(|p| std::fs::read(p).ok()) else {
                return Err(format!(
                    "no TrueType font found (looked at {}; set TRIBUTARY_BENCH_FONT)",
                    candidates
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            // plotters keeps registered fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| "the font file is not a valid TrueType font".to_owned())
        })
        .clone()
}

/// Draws `series` into `path` (800×500 PNG). `Ok(false)` when no font is available.
pub fn line_chart(path: &Path, chart: &Chart, series: &[Series]) -> anyhow::Result<bool> {
    if let Err(why) = font() {
        println!("plot {} skipped: {why}", path.display());
        return Ok(false);
    }
    let points = series.iter().flat_map(|s| s.points.iter());
    let (mut x_min, mut x_max, mut y_min, mut y_max) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points {
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    if x_min > x_max {
        return Err(anyhow!("nothing to plot for {}", path.display()));
    }
    // Headroom, and a non-empty range when all points share a value.
    let (x_lo, x_hi) = if chart.log_x {
        (x_min / 1.5, x_max * 1.5)
    } else {
        (0.0, x_max * 1.05 + 1e-9)
    };
    // The upper part stays free for the legend.
    let (y_lo, y_hi) = if chart.log_y {
        (y_min / 2.0, y_max * 8.0)
    } else {
        (0.0, y_max * 1.6 + 1e-9)
    };

    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(chart.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(72);
    macro_rules! draw {
        ($ctx:expr) => {{
            let mut ctx = $ctx;
            ctx.configure_mesh()
                .x_desc(chart.x_label)
                .y_desc(chart.y_label)
                .label_style(("sans-serif", 14))
                .axis_desc_style(("sans-serif", 15))
                .x_label_formatter(&|v| compact(*v))
                .y_label_formatter(&|v| compact(*v))
                .draw()
                .map_err(|e| anyhow!("{e:?}"))?;
            for (i, s) in series.iter().enumerate() {
                let color = Palette99::pick(i).to_rgba();
                ctx.draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
                    .map_err(|e| anyhow!("{e:?}"))?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
                ctx.draw_series(s.points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    .map_err(|e| anyhow!("{e:?}"))?;
            }
            ctx.configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(|e| anyhow!("{e:?}"))?;
        }};
    }
    match (chart.log_x, chart.log_y) {
        (true, true) => draw!(
            builder
                .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())
                .map_err(|e| anyhow!("{e:?}"))?
        ),
        (true, false) => draw!(
            builder
                .build_cartesian_2d((x_lo..x_hi).log_scale(), y_lo..y_hi)
                .map_err(|e| anyhow!("{e:?}"))?
        ),
        (false, true) => draw!(
            builder
                .build_cartesian_2d(x_lo..x_hi, (y_lo..y_hi).log_scale())
                .map_err(|e| anyhow!("{e:?}"))?
        ),
        (false, false) => draw!(
            builder
                .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
                .map_err(|e| anyhow!("{e:?}"))?
        ),
    }
    root.present().with_context(|| format!("writing {}", path.display()))?;
    println!("plot: {}", path.display());
    Ok(true)
}

/// Axis labels: 1500 → 1.5k, 2000000 → 2M, 0.25 → 0.25.
fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_labels() {
        assert_eq!(compact(1500.0), "1.5k");
        assert_eq!(compact(2_000_000.0), "2M");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(100.0), "100");
    }

    #[test]
    fn draws_a_png() {
        let dir = std::env::temp_dir().join(format!("tributary-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chart.png");
        let drawn = line_chart(
            &path,
            &Chart {
                title: "test",
                x_label: "x",
                y_label: "y",
                log_x: true,
                log_y: false,
            },
            &[Series::new("a", vec![(10.0, 1.0), (100.0, 2.0), (1000.0, 3.0)])],
        )
        .unwrap();
        if drawn {
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(&bytes[1..4], b"PNG");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
