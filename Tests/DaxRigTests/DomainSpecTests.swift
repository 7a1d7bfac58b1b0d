import DaxRigProtocol
import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigMachine
import DaxRigKernel
@testable import DaxRigSupport

@Suite struct DomainSpecTests {
    func spec(nvdimms: [NvdimmSpec], kernel: String = "/k/bzImage", commandLine: String = "console=ttyS0") -> DomainSpec {
        DomainSpec(name: "daxrig-1-test", accelerator: .tcg, memoryMiB: 512, vcpus: 2, kernel: kernel, initrd: "/k/initrd.cpio",
                   commandLine: commandLine, nvdimms: nvdimms, console: .file("/r/console.log"))
    }

    /// libvirt's own schema check (libxml2-utils' virt-xml-validate with libvirt's RNG).
    func validate(_ xml: String) throws -> Command.Output {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("domain.xml").path
        try xml.write(toFile: path, atomically: true, encoding: .utf8)
        return try Command("virt-xml-validate", [path, "domain"]).runAllowingFailure()
    }

    @Test func oneNvdimmDomainIsValidAndHasWhatAnNvdimmNeeds() throws {
        let xml = spec(nvdimms: [NvdimmSpec(backingFile: "/r/pmem0.img", sizeBytes: 2 << 30)]).xml()
        let result = try validate(xml)
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(xml.contains("<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"))
        // libvirt then reads the started guest's CPU features in two QMP calls, not ~400.
        #expect(xml.contains("<qemu:capabilities><qemu:del capability='cpu-unavailable-features'/></qemu:capabilities>"))
        #expect(xml.contains("<maxMemory slots='1' unit='KiB'>\(512 * 1024 + 2 * 1024 * 1024)</maxMemory>"))
        #expect(xml.contains("<cell id='0' cpus='0-1' memory='524288' unit='KiB'/>"))
        #expect(xml.contains("<features><acpi/></features>"))
        #expect(xml.contains("<type arch='x86_64' machine='q35'>hvm</type>"))
        #expect(xml.contains("<memory model='nvdimm' access='shared'>"))
        #expect(xml.contains("<alignsize unit='KiB'>2048</alignsize>"))
        #expect(xml.contains("<pmem/>"))
        #expect(xml.contains("<target type='virtio' name='\(AgentMessage.channelName)'/>"))
        // The channel is read as a stream; here the console is a file virtlogd writes.
        #expect(xml.contains("<serial type='file'><source path='/r/console.log'/>"))
        #expect(xml.contains("<channel type='unix'>\n      <source mode='bind'/>"))
        #expect(!xml.contains("<label>") || xml.contains("seclabel"))
    }

    /// Another host's console: a pty for the stream, QEMU's log of it in the pool.
    @Test func anotherHostsConsoleIsAPtyWithItsLogKeptThere() throws {
        var remote = spec(nvdimms: [NvdimmSpec(backingFile: "/pool/run-d-pmem0", sizeBytes: 2 << 30)])
        remote.console = .pty(log: "/pool/run-d-console.log")
        let xml = remote.xml()
        #expect(try validate(xml).status == 0)
        #expect(xml.contains("<serial type='pty'><log file='/pool/run-d-console.log' append='off'/><target port='0'/></serial>"))
        #expect(!xml.contains("type='file'"))
    }

    /// `--gdb`: the stub on QEMU's command line, on loopback only, in a domain libvirt's
    /// schema takes; without it, nothing on QEMU's command line.
    @Test func aGdbStubIsOnQEMUsCommandLineOnLoopbackOnly() throws {
        var gdb = spec(nvdimms: [NvdimmSpec(backingFile: "/r/pmem0.img", sizeBytes: 2 << 30)])
        gdb.gdb = GdbStub(port: 4321, wait: true)
        let xml = gdb.xml()
        let result = try validate(xml)
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(xml.contains("<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"))
        #expect(xml.contains("<qemu:arg value='-gdb'/>\n    <qemu:arg value='tcp:127.0.0.1:4321'/>"))
        #expect(!spec(nvdimms: []).xml().contains("qemu:commandline"))
        #expect(GdbStub(port: 4321).command(vmlinux: "/k/vmlinux", scripts: "/k/vmlinux-gdb.py")
            == "gdb -iex 'add-auto-load-safe-path /k' /k/vmlinux -ex 'target remote 127.0.0.1:4321'")
        #expect(GdbStub().command(vmlinux: "/k/vmlinux", scripts: nil) == "gdb /k/vmlinux -ex 'target remote 127.0.0.1:1234'")
    }

    /// `--share` and `--dump-on-crash` in a domain libvirt's schema takes: shared memory
    /// and virtiofsd for virtio-fs, a 9p device, QEMU's vmcoreinfo device; and a kernel
    /// that halts on a panic only when a dump is wanted.
    @Test func sharesAndTheVmcoreinfoDeviceAreValidDomainXML() throws {
        var domain = spec(nvdimms: [NvdimmSpec(backingFile: "/r/pmem0.img", sizeBytes: 2 << 30)])
        domain.shares = [DomainShare(source: "/h/a", tag: "daxrig0", readOnly: false, transport: .virtiofs, virtiofsd: "/usr/lib/qemu/virtiofsd"),
                         DomainShare(source: "/h/b", tag: "daxrig1", readOnly: true, transport: .ninep)]
        domain.vmcoreInfo = true
        let xml = domain.xml()
        let result = try validate(xml)
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(xml.contains("<features><acpi/><vmcoreinfo state='on'/></features>"))
        #expect(GuestRunner.kernelCommandLine(extra: []).contains("panic=-1"))
        #expect(GuestRunner.kernelCommandLine(extra: [], haltOnPanic: true).contains("panic=0 "))
    }

    /// gdb without vmlinux has no symbol to break on: refused before anything boots.
    @Test func gdbOnAKernelWithoutVmlinuxOrOnNoPortIsBadInput() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bare = directory.appendingPathComponent("bzImage").path
        try Files.write("not a kernel", to: bare)
        #expect(throws: GdbAttachError.noVmlinux(kernel: bare)) { try GdbAttach(kernel: BootableKernel(image: bare), port: 1234, wait: false) }
        #expect(throws: GdbAttachError.badPort(0)) { try GdbAttach(kernel: BootableKernel(image: bare), port: 0, wait: false) }
        #expect(GdbAttachError.noVmlinux(kernel: bare).exitStatus == .badInput)
    }

    @Test func twoNvdimmsGetTwoSlotsAndTheirSizesInMaxMemory() throws {
        let xml = spec(nvdimms: [NvdimmSpec(backingFile: "/r/a.img", sizeBytes: 1 << 30),
                                 NvdimmSpec(backingFile: "/r/b.img", sizeBytes: 4 << 30, labelBytes: 128 << 10)]).xml()
        let result = try validate(xml)
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(xml.contains("<maxMemory slots='2' unit='KiB'>\(512 * 1024 + 5 * 1024 * 1024)</maxMemory>"))
        #expect(xml.components(separatedBy: "<memory model='nvdimm'").count == 3)
        #expect(xml.contains("<label><size unit='KiB'>128</size></label>"))
    }

    @Test func withoutNvdimmsThereIsNoMaxMemory() throws {
        let xml = spec(nvdimms: []).xml()
        #expect(try validate(xml).status == 0)
        #expect(!xml.contains("maxMemory"))
    }

    @Test func pathsAndCommandLineAreEscaped() throws {
        let xml = spec(nvdimms: [NvdimmSpec(backingFile: "/r/it's <&> \"odd\".img", sizeBytes: 1 << 30)],
                       kernel: "/k/a&b/bzImage", commandLine: "console=ttyS0 x=\"a<b\" y='c'").xml()
        let result = try validate(xml)
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(xml.contains("/r/it&apos;s &lt;&amp;&gt; &quot;odd&quot;.img"))
        #expect(xml.contains("<kernel>/k/a&amp;b/bzImage</kernel>"))
        #expect(xml.contains("x=&quot;a&lt;b&quot; y=&apos;c&apos;"))
    }

    @Test func uniqueNamesAreOursAndDistinct() {
        let names = (0..<50).map { _ in DomainSpec.uniqueName() }
        #expect(Set(names).count == 50)
        #expect(names.allSatisfy { $0.hasPrefix("daxrig-\(getpid())-") })
    }

    /// Every kernel boots on q35 (MachineType: faster under TCG than pc, and the only
    /// chipset a KASAN kernel's ACPI finishes on); pc stays for a caller that asks.
    @Test func everyKernelBootsOnQ35UnlessACallerAsksForPc() throws {
        var spec = DomainSpec(name: "d", accelerator: .tcg, memoryMiB: 512, vcpus: 2, kernel: "/k", initrd: "/i", commandLine: "",
                              nvdimms: [], console: .file("/c"))
        #expect(spec.xml().contains("<type arch='x86_64' machine='q35'>hvm</type>"))
        spec.machine = .pc
        #expect(spec.xml().contains("<type arch='x86_64' machine='pc'>hvm</type>"))
    }
}
