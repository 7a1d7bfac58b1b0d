import DaxRigProtocol
import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigImage

@Suite struct ImageRecipeTests {
    static let sample = """
        # a comment line
        agent /init
        dir /proc
        dir /tmp 1777     # trailing comment
        chardev /dev/console 5 1 0600
        symlink /etc/mtab /proc/self/mounts
        tool mkfs.xfs /sbin/mkfs.xfs
        tool busybox /bin/busybox
        applets /bin/busybox sh mount
        file /etc/hostname /etc/hostname 0644
        """

    @Test func parsesEveryDirectiveWithLineNumbers() throws {
        let recipe = try ImageRecipe.parse(Self.sample, source: "test.recipe")
        #expect(recipe.lines.map(\.directive) == [
            .agent(target: "/init"),
            .directory(target: "/proc", permissions: 0o755),
            .directory(target: "/tmp", permissions: 0o1777),
            .characterDevice(target: "/dev/console", major: 5, minor: 1, permissions: 0o600),
            .symlink(target: "/etc/mtab", pointsTo: "/proc/self/mounts"),
            .tool(program: "mkfs.xfs", target: "/sbin/mkfs.xfs"),
            .tool(program: "busybox", target: "/bin/busybox"),
            .applets(busybox: "/bin/busybox", names: ["sh", "mount"]),
            .file(source: "/etc/hostname", target: "/etc/hostname", permissions: 0o644),
        ])
        #expect(recipe.lines.map(\.number) == [2, 3, 4, 5, 6, 7, 8, 9, 10])
        #expect(recipe.agentTarget == "/init")
    }

    @Test func unknownDirectiveNamesFileAndLine() {
        #expect(throws: ImageError.self) { try ImageRecipe.parse("agent /init\ncopy /a /b\n", source: "x.recipe") }
        do {
            _ = try ImageRecipe.parse("agent /init\ncopy /a /b\n", source: "x.recipe")
        } catch let error as ImageError {
            guard case let .recipeSyntax(file, line, message) = error else { Issue.record("\(error)"); return }
            #expect(file == "x.recipe" && line == 2)
            #expect(message.contains("unknown directive 'copy'"))
            #expect(error.description.hasPrefix("x.recipe:2: "))
        } catch { Issue.record("\(error)") }
    }

    @Test(arguments: [
        "dir relative/path",            // not absolute
        "dir /a/../b",                  // ..
        "dir /tmp 0999",                // not octal
        "tool mkfs.xfs",                // missing target
        "chardev /dev/console five 1",  // bad major
        "applets /bin/busybox",         // no names
        "applets /bin/busybox bin/sh",  // a path, not a name
        "file relative /etc/x",         // relative host path
    ])
    func malformedLinesAreSyntaxErrors(_ line: String) {
        #expect(throws: ImageError.self) { try ImageRecipe.parse("agent /init\n\(line)\n", source: "r") }
    }

    @Test func exactlyOneAgent() {
        #expect(throws: ImageError.self) { try ImageRecipe.parse("dir /proc\n", source: "r") }
        #expect(throws: ImageError.self) { try ImageRecipe.parse("agent /init\nagent /sbin/init\n", source: "r") }
    }

    /// A host without xfsprogs: the error names the recipe line and the package.
    @Test func missingToolNamesTheDebianPackage() throws {
        let recipe = try ImageRecipe.parse(Self.sample, source: "guest.recipe")
        let host = HostLookup(locate: { $0 == "mkfs.xfs" ? nil : "/bin/true" }, libraries: { _ in [] }, applets: { _ in ["sh", "mount"] })
        #expect(throws: ImageError.missingTool(tool: "mkfs.xfs", package: "xfsprogs", recipe: "guest.recipe", line: 7)) {
            try ImageContents.resolve(recipe, agent: Data("agent".utf8), agentSource: "agent", host: host)
        }
        let message = ImageError.missingTool(tool: "mkfs.xfs", package: "xfsprogs", recipe: "guest.recipe", line: 7).description
        #expect(message.contains("apt-get install xfsprogs"))
    }

    @Test func appletsAreCheckedAgainstBusybox() throws {
        let recipe = try ImageRecipe.parse("agent /init\ntool busybox /bin/busybox\napplets /bin/busybox sh frobnicate\n", source: "r")
        let host = HostLookup(locate: { _ in "/bin/true" }, libraries: { _ in [] }, applets: { _ in ["sh", "mount"] })
        #expect(throws: ImageError.unknownApplets(names: ["frobnicate"], busybox: "/bin/true", recipe: "r", line: 3)) {
            try ImageContents.resolve(recipe, agent: Data(), agentSource: "agent", host: host)
        }
        let orphan = try ImageRecipe.parse("agent /init\napplets /bin/busybox sh\n", source: "r")
        #expect(throws: ImageError.appletsWithoutBusybox(target: "/bin/busybox", recipe: "r", line: 2)) {
            try ImageContents.resolve(orphan, agent: Data(), agentSource: "agent", host: host)
        }
    }

    @Test func twoThingsOnOnePathIsAConflictNamingTheLine() throws {
        let recipe = try ImageRecipe.parse("agent /init\ndir /init\n", source: "r")
        let host = HostLookup(locate: { _ in nil }, libraries: { _ in [] }, applets: { _ in [] })
        #expect(throws: ImageError.self) { try ImageContents.resolve(recipe, agent: Data("x".utf8), agentSource: "a", host: host) }
    }

    /// Tools resolved with a fake closure: the tool, its libraries and the applet
    /// links all land where the recipe says; the key moves with the recipe text and
    /// the agent bytes, and with nothing else.
    @Test func resolvesToolsLibrariesAndLinksAndKeysByContent() throws {
        let host = HostLookup(
            locate: { $0 == "busybox" ? "/bin/busybox" : "/usr/sbin/mkfs.xfs" },
            libraries: { $0.hasSuffix("mkfs.xfs") ? [SharedLibrary(name: "libc.so.6", path: "/lib/x86_64-linux-gnu/libc.so.6")] : [] },
            applets: { _ in ["sh", "mount"] })
        let recipe = try ImageRecipe.parse("agent /init\ntool mkfs.xfs /sbin/mkfs.xfs\ntool busybox /bin/busybox\napplets /bin/busybox sh mount\n", source: "r")
        let contents = try ImageContents.resolve(recipe, agent: Data("agent-1".utf8), agentSource: "a", host: host)
        let paths = try contents.archive().members().map(\.path)
        #expect(paths == ["bin", "bin/busybox", "bin/mount", "bin/sh", "init", "lib", "lib/x86_64-linux-gnu",
                          "lib/x86_64-linux-gnu/libc.so.6", "sbin", "sbin/mkfs.xfs"])
        #expect(contents.items.first { $0.entry.path == "/bin/sh" }?.entry.kind == .symlink(target: "busybox"))

        let same = try ImageContents.resolve(recipe, agent: Data("agent-1".utf8), agentSource: "elsewhere", host: host)
        let otherAgent = try ImageContents.resolve(recipe, agent: Data("agent-2".utf8), agentSource: "a", host: host)
        let otherRecipe = try ImageContents.resolve(try ImageRecipe.parse(recipe.text + "# note\n", source: "r"),
                                                    agent: Data("agent-1".utf8), agentSource: "a", host: host)
        #expect(try same.key() == contents.key())
        #expect(try otherAgent.key() != contents.key())
        #expect(try otherRecipe.key() != contents.key())
        #expect(try contents.key().count == 20)
    }

    /// The checked-in recipe parses and asks for what the agent runs.
    @Test func defaultRecipeParses() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("images/guest.recipe").path
        let recipe = try ImageRecipe.load(path: path)
        #expect(recipe.agentTarget == "/init")
        let tools = recipe.lines.compactMap { line -> String? in
            if case let .tool(program, _) = line.directive { return program } else { return nil }
        }
        #expect(tools == ["ndctl", "mkfs.ext4", "mkfs.xfs", "busybox"])
        let applets = Set(recipe.lines.flatMap { line -> [String] in
            if case let .applets(_, names) = line.directive { return names } else { return [] }
        })
        #expect(applets.isSuperset(of: ["sh", "mount", "umount", "cat", "ls", "echo", "grep", "dd", "sync", "sleep",
                                        "true", "false", "dmesg", "mkdir", "rm", "stat", "df", "poweroff"]))
        #expect(recipe.lines.contains { $0.directive == .characterDevice(target: "/dev/console", major: 5, minor: 1, permissions: 0o600) })
    }

    @Test func agentLookupHonoursTheEnvironmentAndSaysToBuild() throws {
        #expect(try AgentBinary.locate(environment: ["DAXRIG_AGENT": "/bin/true"]) == "/bin/true")
        #expect(throws: ImageError.agentNotFound(searched: ["$DAXRIG_AGENT=/no/agent"])) {
            try AgentBinary.locate(environment: ["DAXRIG_AGENT": "/no/agent"])
        }
        #expect(ImageError.agentNotFound(searched: ["/x"]).description.contains("swift build --product daxrig-agent"))
    }

    @Test func builtInRecipeIsTheShippedFileAndParses() throws {
        let shipped = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("images/guest.recipe")
        #expect(ImageRecipe.builtIn.text == (try String(contentsOf: shipped, encoding: .utf8)))
        #expect(ImageRecipe.builtIn.agentTarget == "/init")
    }
}
