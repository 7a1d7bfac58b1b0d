import Foundation
import DaxRigSupport

/// A line chart drawn as inline SVG by daxrig itself, so a report opens anywhere with
/// no script and no network fetch: one polyline (with a marker per point) per series,
/// axes with round ticks, a legend.
public struct SVGChart: Sendable {
    public struct Point: Sendable, Equatable {
        public var x: Double
        public var y: Double
        public init(x: Double, y: Double) {
            self.x = x
            self.y = y
        }
    }

    public struct Series: Sendable, Equatable {
        public var name: String
        public var points: [Point]
        public init(name: String, points: [Point]) {
            self.name = name
            self.points = points
        }
    }

    /// How the y values read: bytes get binary units.
    public enum ValueFormat: Sendable {
        case plain
        case bytes
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// A log10 x axis: N runs from 1 to 10,000.
    public var logX = false
    /// Names for x positions (nights); ticks then sit on these positions only.
    public var xNames: [Double: String]? = nil
    public var yFormat: ValueFormat = .plain
    public var width = 720
    public var height = 380

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    /// Tableau's ten colours: distinct, and readable on white.
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    static let margin = (left: 78.0, right: 16.0, top: 34.0, bottom: 48.0)

    public func render() -> String {
        let esc = XMLText.escape
        let legendHeight = Double((series.count + 1) / 2) * 18 + 22
        let plot = (x0: Self.margin.left, x1: Double(width) - Self.margin.right,
                    y0: Self.margin.top, y1: Double(height) - Self.margin.bottom)
        var out = [##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="\##(width)" height="\##(Int(Double(height) + legendHeight))" viewBox="0 0 \##(width) \##(Int(Double(height) + legendHeight))" role="img" aria-label="\##(esc(title))">"##,
                   ##"<rect x="0" y="0" width="100%" height="100%" fill="#ffffff"/>"##,
                   ##"<text x="\##(width / 2)" y="20" text-anchor="middle" font-size="15" font-weight="bold">\##(esc(title))</text>"##]
        let points = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite && (!logX || $0.x > 0) }
        guard !points.isEmpty else {
            out.append(##"<text class="no-data" x="\##(width / 2)" y="\##(height / 2)" text-anchor="middle" fill="#777777">no data yet</text>"##)
            out.append("</svg>")
            return out.joined(separator: "\n")
        }
        let xs = ChartScale(values: points.map(\.x), log: logX, from: plot.x0, to: plot.x1, startAtZero: false)
        let ys = ChartScale(values: points.map(\.y) + [0], log: false, from: plot.y1, to: plot.y0, startAtZero: true)

        // Axes, grid and ticks.
        out.append(##"<g class="axes" font-size="11" fill="#333333">"##)
        // Byte ticks fall on round numbers of the unit they print in (KiB, MiB, ...).
        let peak = points.map { abs($0.y) }.max() ?? 0
        let units: [Double] = [1_099_511_627_776, 1_073_741_824, 1_048_576, 1024]
        let unit: Double = yFormat == .bytes ? (units.first { peak >= $0 } ?? 1) : 1
        for tick in ys.ticks(unit: unit) {
            let y = ys.position(tick)
            out.append(##"<line x1="\##(f(plot.x0))" y1="\##(f(y))" x2="\##(f(plot.x1))" y2="\##(f(y))" stroke="#e5e5e5"/>"##)
            out.append(##"<text x="\##(f(plot.x0 - 6))" y="\##(f(y + 4))" text-anchor="end">\##(esc(label(tick)))</text>"##)
        }
        let xTicks = xNames.map { $0.keys.sorted() } ?? xs.ticks()
        for tick in xTicks {
            let x = xs.position(tick)
            out.append(##"<line x1="\##(f(x))" y1="\##(f(plot.y1))" x2="\##(f(x))" y2="\##(f(plot.y1 + 5))" stroke="#333333"/>"##)
            let name = xNames?[tick] ?? JUnitReport.format(tick)
            out.append(##"<text x="\##(f(x))" y="\##(f(plot.y1 + 18))" text-anchor="middle">\##(esc(name))</text>"##)
        }
        out.append(##"<line x1="\##(f(plot.x0))" y1="\##(f(plot.y1))" x2="\##(f(plot.x1))" y2="\##(f(plot.y1))" stroke="#333333"/>"##)
        out.append(##"<line x1="\##(f(plot.x0))" y1="\##(f(plot.y0))" x2="\##(f(plot.x0))" y2="\##(f(plot.y1))" stroke="#333333"/>"##)
        out.append(##"<text x="\##(f((plot.x0 + plot.x1) / 2))" y="\##(f(plot.y1 + 38))" text-anchor="middle" font-size="12">\##(esc(xLabel + (logX ? " (log scale)" : "")))</text>"##)
        out.append(##"<text transform="translate(16 \##(f((plot.y0 + plot.y1) / 2))) rotate(-90)" text-anchor="middle" font-size="12">\##(esc(yLabel))</text>"##)
        out.append("</g>")

        // Series: a line through the points in x order, and a marker with the value as its tooltip.
        for (index, item) in series.enumerated() {
            let colour = Self.palette[index % Self.palette.count]
            // Past ten series the colours repeat: dashes tell the second round apart.
            let dashes = index >= Self.palette.count ? #" stroke-dasharray="6 4""# : ""
            let sorted = item.points.filter { $0.x.isFinite && $0.y.isFinite && (!logX || $0.x > 0) }.sorted { $0.x < $1.x }
            out.append(##"<g class="series" data-series="\##(esc(item.name))">"##)
            if sorted.count > 1 {
                let path = sorted.map { "\(f(xs.position($0.x))),\(f(ys.position($0.y)))" }.joined(separator: " ")
                out.append(##"<polyline fill="none" stroke="\##(colour)" stroke-width="2.5"\##(dashes) points="\##(path)"/>"##)
            }
            for point in sorted {
                out.append(##"<circle cx="\##(f(xs.position(point.x)))" cy="\##(f(ys.position(point.y)))" r="4" fill="\##(colour)"><title>\##(esc("\(item.name): \(xNames?[point.x] ?? JUnitReport.format(point.x)) -> \(label(point.y))"))</title></circle>"##)
            }
            out.append("</g>")
        }

        // Legend, two columns under the plot.
        out.append(##"<g class="legend" font-size="12">"##)
        for (index, item) in series.enumerated() {
            let x = index % 2 == 0 ? plot.x0 : plot.x0 + (plot.x1 - plot.x0) / 2
            let y = Double(height) + 14 + Double(index / 2) * 18
            out.append(##"<rect x="\##(f(x))" y="\##(f(y - 10))" width="14" height="10" fill="\##(Self.palette[index % Self.palette.count])"/>"##)
            out.append(##"<text x="\##(f(x + 20))" y="\##(f(y))">\##(esc(item.name))</text>"##)
        }
        out.append("</g>")
        out.append("</svg>")
        return out.joined(separator: "\n")
    }

    func label(_ value: Double) -> String {
        switch yFormat {
        case .plain: return JUnitReport.format(value)
        case .bytes: return value < 0 ? "-" + ByteSize.format(UInt64(-value)) : ByteSize.format(UInt64(value))
        }
    }

    func f(_ value: Double) -> String { String(format: "%.1f", value) }
}

/// Maps data values onto pixels, and picks round tick values (1, 2 or 5 times a power
/// of ten; powers of ten on a log axis).
struct ChartScale {
    let low: Double
    let high: Double
    let log: Bool
    let from: Double
    let to: Double

    init(values: [Double], log: Bool, from: Double, to: Double, startAtZero: Bool) {
        let transform = { (v: Double) in log ? log10(v) : v }
        var low = transform(values.min() ?? 0)
        var high = transform(values.max() ?? 1)
        if startAtZero && !log { low = min(low, 0) }
        if high - low < 1e-12 {
            // One value: a range around it, so the point sits inside the plot.
            (low, high) = log ? (low - 0.5, high + 0.5) : (low == 0 ? (0, 1) : (min(0, low * 0.5), high * 1.5))
        } else if !log {
            // Room at the ends, so no marker sits on an axis (at zero, the axis is the floor).
            let pad = (high - low) * 0.05
            (low, high) = (startAtZero && low == 0 ? low : low - pad, high + pad)
        }
        if log { (low, high) = (low - 0.1, high + 0.1) }
        (self.low, self.high, self.log, self.from, self.to) = (low, high, log, from, to)
    }

    func position(_ value: Double) -> Double {
        let v = log ? log10(value) : value
        return from + (v - low) / (high - low) * (to - from)
    }

    /// Round ticks in multiples of `unit` (1024 for KiB): 1, 2 or 5 times a power of ten of it.
    func ticks(unit: Double = 1) -> [Double] {
        if log {
            return (Int(ceil(low))...max(Int(ceil(low)), Int(floor(high)))).map { pow(10, Double($0)) }
        }
        let rough = (high - low) / 5 / unit
        let power = pow(10, floor(log10(rough)))
        let step = ([1.0, 2, 5, 10].map { $0 * power }.first { $0 >= rough } ?? rough) * unit
        var ticks: [Double] = []
        var tick = ceil(low / step) * step
        while tick <= high + step * 1e-9 {
            ticks.append(abs(tick) < step * 1e-9 ? 0 : tick)
            tick += step
        }
        return ticks
    }
}
