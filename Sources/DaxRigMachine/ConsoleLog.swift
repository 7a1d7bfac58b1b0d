import Foundation
import DaxRigSupport

/// How virtlogd, which writes every file console libvirt starts, rolls its logs over:
/// at `maxSize` bytes (0: never) the file becomes `path.0`, the older parts move up one
/// (`path.1`, ...), and only `maxBackups` of them are kept.
public struct VirtlogdSettings: Sendable, Equatable {
    public var maxSize: Int
    public var maxBackups: Int

    /// virtlogd's defaults, as its virtlogd.conf documents them.
    public static let defaults = VirtlogdSettings(maxSize: 2_097_152, maxBackups: 3)
    public static let path = "/etc/libvirt/virtlogd.conf"

    public init(maxSize: Int, maxBackups: Int) {
        self.maxSize = maxSize
        self.maxBackups = maxBackups
    }

    /// The settings in a virtlogd.conf text: `name = value` lines, `#` comments; what
    /// is not set (or not a number) keeps its default, as virtlogd does.
    public init(conf: String) {
        self = .defaults
        for line in conf.split(whereSeparator: \.isNewline) {
            let text = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let pair = text.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, let value = Int(pair[1]), value >= 0 else { continue }
            switch pair[0] {
            case "max_size": maxSize = value
            case "max_backups": maxBackups = value
            default: break
            }
        }
    }

    /// This host's settings; a host without the file has virtlogd's defaults.
    public static func current() -> VirtlogdSettings {
        (try? Files.read(path)).map(VirtlogdSettings.init(conf:)) ?? .defaults
    }
}

/// A guest's serial console as it reached the disk, every part of it. A boot that
/// prints more than `max_size` has its early lines (a WARNING, the first `bad pmd`) in
/// the rolled-over parts, and one that prints more than all kept parts hold has lost
/// its beginning: then the log cannot be called clean, so the loss is itself a finding.
public struct ConsoleLog: Sendable, Equatable {
    /// Every kept part, oldest first, as one text.
    public var text: String
    /// The files it came from, oldest first (the console file itself last).
    public var parts: [String]
    /// Whether output may have rolled away: the oldest part virtlogd keeps is there and
    /// does not begin with the kernel's banner (the console replays the kernel's log
    /// from its first line when it registers).
    public var lostBeginning: Bool
    public var settings: VirtlogdSettings

    static let banner = "Linux version "

    /// The parts of the console at `path` that are there, oldest first: the rolled-over
    /// ones (`path.N` ... `path.0`), then the file itself.
    public static func parts(of path: String, settings: VirtlogdSettings = .current()) -> [String] {
        ((0..<settings.maxBackups).reversed().map { "\(path).\($0)" } + [path]).filter(Files.exists)
    }

    /// Reads `path` and its rolled-over parts.
    public static func read(_ path: String, settings: VirtlogdSettings = .current()) -> ConsoleLog {
        let parts = Self.parts(of: path, settings: settings)
        // Decoded leniently: one byte that is not UTF-8 (a guest writing to its serial
        // port, a corrupt string in a report) must not make the whole log unreadable, and
        // an unreadable log must not read as a clean one.
        let texts = parts.map { Files.readLossy($0) ?? "" }
        let oldest = settings.maxBackups > 0 ? "\(path).\(settings.maxBackups - 1)" : path
        let lost = settings.maxSize > 0 && Files.exists(oldest) && !(texts.first?.prefix(4096).contains(banner) ?? false)
        return ConsoleLog(text: texts.joined(), parts: parts, lostBeginning: lost, settings: settings)
    }

    /// The finding a lost beginning makes: before line 1, so it counts against every
    /// case of the boot (no case's section holds it).
    public var lossFinding: ConsoleFinding? {
        guard lostBeginning else { return nil }
        return ConsoleFinding(kind: .consoleLost, line: 0, excerpt:
            "the console printed more than virtlogd keeps (\(settings.maxBackups + 1) parts of \(settings.maxSize) bytes): "
            + "its beginning rolled away unread, and a kernel report in it cannot be ruled out; set max_size = 0 in "
            + "\(VirtlogdSettings.path) and restart virtlogd")
    }

    /// Joins the parts into `path`, for a kept log that is whole. Only once the domain is
    /// gone: virtlogd writes the console file until then.
    public func join(into path: String) throws {
        guard parts.count > 1 else { return }
        // The bytes as the guest printed them, not the leniently decoded text.
        try Files.write(parts.reduce(into: Data()) { $0 += FileManager.default.contents(atPath: $1) ?? Data() }, to: path)
        for part in parts where part != path { Files.remove(part) }
    }
}
