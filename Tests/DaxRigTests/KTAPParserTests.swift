import Foundation
import Testing
@testable import DaxRigRun

/// The KTAP/TAP parser on output shaped as kselftest's runner.sh and kselftest.h and
/// KUnit print it in a 6.1 guest, and on output cut short by a crash.
@Suite struct KTAPParserTests {
    @Test func flatKselftestRun() {
        let document = KTAPDocument.parse("""
            TAP version 13
            1..4
            # selftests: vm: hugepage-mmap
            # Returned 0 from hugepage-mmap
            ok 1 selftests: vm: hugepage-mmap
            # selftests: vm: map_hugetlb
            # Default size hugepages not found
            ok 2 selftests: vm: map_hugetlb # SKIP
            # selftests: vm: mremap_test
            #
            not ok 3 selftests: vm: mremap_test # TIMEOUT 45 seconds
            # selftests: vm: madv_populate
            # Segmentation fault
            not ok 4 selftests: vm: madv_populate # exit=139

            """)
        #expect(document.version == "TAP version 13")
        #expect(document.plan == 4)
        #expect(document.results.map(\.number) == [1, 2, 3, 4])
        #expect(document.results.map(\.name) == ["selftests: vm: hugepage-mmap", "selftests: vm: map_hugetlb",
                                                 "selftests: vm: mremap_test", "selftests: vm: madv_populate"])
        #expect(document.results.map(\.ok) == [true, true, false, false])
        #expect(document.results.map(\.directive) == [nil, .skip, .timeout, nil])
        #expect(document.results[2].reason == "45 seconds")
        #expect(document.results[0].diagnostics == ["selftests: vm: hugepage-mmap", "Returned 0 from hugepage-mmap"])
        #expect(document.results[3].diagnostics == ["selftests: vm: madv_populate", "Segmentation fault", "exit=139"])
        #expect(document.problems == [])
        #expect(document.running == nil && document.trailing == [] && !document.isEmpty)
    }

    @Test func nestedKUnitWithSubtestHeaders() throws {
        let document = KTAPDocument.parse("""
            KTAP version 1
            1..2
                KTAP version 1
                # Subtest: example
                # module: example
                1..3
                # example_simple_test: initializing
                ok 1 example_simple_test
                ok 2 example_skip_test # SKIP this test should be skipped
                    KTAP version 1
                    # Subtest: example_params_test
                    ok 1 example value 3
                    ok 2 example value 2 # SKIP unsupported
                # example_params_test: pass:1 fail:0 skip:1 total:2
                ok 3 example_params_test
            # example: pass:2 fail:0 skip:1 total:3
            ok 1 example
                # Subtest: list-kunit-test
                1..1
                # list_test_list_init: EXPECTATION FAILED at lib/list-test.c:20
                not ok 1 list_test_list_init
            not ok 2 list-kunit-test
            """)
        #expect(document.version == "KTAP version 1")
        #expect(document.results.map(\.name) == ["example", "list-kunit-test"])
        #expect(document.results.map(\.ok) == [true, false])
        let example = try #require(document.results.first)
        #expect(example.plan == 3)
        #expect(example.diagnostics == ["example: pass:2 fail:0 skip:1 total:3"])
        #expect(example.subtests.map(\.name) == ["example_simple_test", "example_skip_test", "example_params_test"])
        #expect(example.subtests[0].diagnostics == ["module: example", "example_simple_test: initializing"])
        #expect(example.subtests[1].directive == .skip && example.subtests[1].reason == "this test should be skipped")
        #expect(example.subtests[2].plan == nil)
        #expect(example.subtests[2].diagnostics == ["example_params_test: pass:1 fail:0 skip:1 total:2"])
        #expect(example.subtests[2].subtests.map(\.name) == ["example value 3", "example value 2"])
        #expect(example.subtests[2].subtests[1].reason == "unsupported")
        #expect(document.results[1].subtests.map(\.diagnostics) == [["list_test_list_init: EXPECTATION FAILED at lib/list-test.c:20"]])
        #expect(document.problems == [])
    }

    @Test func twoSpaceIndentationTabsAndTAP14SubtestLines() {
        let spec = KTAPDocument.parse("KTAP version 1\n1..1\n  KTAP version 1\n  1..2\n  ok 1 test_1\n  not ok 2 test_2\n# example failed\nnot ok 1 example\n")
        #expect(spec.results.map(\.subtests.count) == [2])
        #expect(spec.results.first?.diagnostics == ["example failed"])
        let tabs = KTAPDocument.parse("TAP version 14\n1..1\n# Subtest: tabbed\n\t1..1\n\tok 1 - inner\nok 1 - tabbed\n")
        #expect(tabs.results.first?.subtests.map(\.name) == ["inner"])
        #expect(tabs.results.first?.plan == 1 && tabs.problems == [])
    }

    @Test func kselftestRunnerWrappingKTAPBinaries() throws {
        let document = KTAPDocument.parse("""
            TAP version 13
            1..2
            # selftests: mm: madv_populate
            # TAP version 13
            # 1..3
            # ok 1 read
            # # write: MADV_POPULATE_WRITE failed
            # not ok 2 write
            # ok 3 cow # SKIP no THP
            # # Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0
            not ok 1 selftests: mm: madv_populate # exit=1
            # selftests: mm: hmm-tests
            # TAP version 13
            # 1..1
            # #  RUN           hmm.open_close ...
            # ok 1 hmm.open_close
            # # PASSED: 1 / 1 tests passed.
            ok 2 selftests: mm: hmm-tests
            """)
        #expect(document.version == "TAP version 13" && document.plan == 2)
        let madv = try #require(document.results.first)
        #expect(madv.plan == 3 && !madv.ok)
        #expect(madv.subtests.map(\.name) == ["read", "write", "cow"])
        #expect(madv.subtests.map(\.ok) == [true, false, true])
        #expect(madv.subtests[1].diagnostics == ["write: MADV_POPULATE_WRITE failed"])
        #expect(madv.subtests[2].directive == .skip && madv.subtests[2].reason == "no THP")
        #expect(madv.diagnostics == ["selftests: mm: madv_populate", "Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0", "exit=1"])
        #expect(document.results[1].subtests.first?.diagnostics == [" RUN           hmm.open_close ..."])
        #expect(document.results[1].diagnostics == ["selftests: mm: hmm-tests", "PASSED: 1 / 1 tests passed."])
        #expect(document.problems == [] && document.running == nil)
    }

    @Test func everyDirective() {
        let document = KTAPDocument.parse("""
            KTAP version 1
            1..10
            ok 1 a # SKIP no device
            not ok 2 b # TODO not yet
            not ok 3 c # XFAIL known bug
            not ok 4 d # TIMEOUT 30 seconds
            not ok 5 e # ERROR setup failed
            ok 6 f # Skipped: not here
            ok 7 # skip
            ok 8 - g # rcode=0
            not ok 9 test#1 # error: boom
            ok 10 h # XPASS
            """)
        #expect(document.results.map(\.directive) == [.skip, .todo, .xfail, .timeout, .error, .skip, .skip, nil, .error, nil])
        #expect(document.results.map(\.reason) == ["no device", "not yet", "known bug", "30 seconds", "setup failed", "not here", "", "", "boom", ""])
        #expect(document.results.map(\.name) == ["a", "b", "c", "d", "e", "f", "", "g", "test#1", "h"])
        #expect(document.results[7].diagnostics == ["rcode=0"])
        #expect(document.results[9].diagnostics == ["XPASS"])
        #expect(document.problems == [])
    }

    @Test func planAtTheEndAndAPlanThatDoesNotMatch() {
        let atEnd = KTAPDocument.parse("TAP version 14\nok 1 - first\nok 2 - second\n1..2\n")
        #expect(atEnd.plan == 2 && atEnd.results.count == 2 && atEnd.problems == [])
        let short = KTAPDocument.parse("TAP version 13\n1..3\nok 1 a\nok 2 b\n")
        #expect(short.problems == ["the plan 1..3 does not match the 2 results"])
        let skipped = KTAPDocument.parse("TAP version 13\n1..0 # SKIP no pmem device\n")
        #expect(skipped.plan == 0 && skipped.skippedAll == "no pmem device" && skipped.problems == [] && !skipped.isEmpty)
        // kselftest's run_tests prints one run per target, each numbered from 1 against its own plan.
        let two = KTAPDocument.parse("TAP version 13\n1..1\nok 1 a\nTAP version 13\n1..3\nok 1 b\nok 2 c\n")
        #expect(two.plan == 4 && two.results.map(\.number) == [1, 1, 2])
        #expect(two.problems == ["the plan 1..3 does not match the 2 results"])
    }

    @Test func numberingProblems() {
        let document = KTAPDocument.parse("""
            KTAP version 1
            1..6
            ok 1 a
            ok 3 c
            ok 3 again
            ok - nonumber
            ok 0 zero
                # Subtest: suite
                ok 2 x
            ok 6 suite
            """)
        #expect(document.results.map(\.number) == [1, 3, 3, 4, 0, 6])
        #expect(document.results[3].name == "nonumber")
        #expect(document.problems == [
            "result 3 came where 2 was expected",
            "result 3 appears twice",
            "a result with no number after result 3; taken as 4",
            "result 0 came where 5 was expected",
            "in 'suite': result 2 came where 1 was expected",
            "result 6 came where 1 was expected",
        ])
    }

    @Test func outputCutInsideANestedKUnitSuite() {
        let document = KTAPDocument.parse("""
            KTAP version 1
            1..3
                # Subtest: dax_a
                1..1
                ok 1 t
            ok 1 dax_a
                KTAP version 1
                # Subtest: dax_pmd
                1..4
                # test_fault: mapping 2 MiB
                ok 1 test_fault
                not ok 2 test_split
                # test_cow: starting
            BUG: kernel NULL pointer dereference, address: 0000000000000008
            RIP: 0010:dax_insert_pfn_mkwrite+0x20/0x1a0
            """)
        #expect(document.results.map(\.name) == ["dax_a"])
        #expect(document.running == "dax_pmd")
        #expect(document.runningSubtests.map(\.name) == ["test_fault", "test_split"])
        #expect(document.runningPlan == 4)
        #expect(document.trailing == ["test_fault: mapping 2 MiB", "test_cow: starting",
                                      "BUG: kernel NULL pointer dereference, address: 0000000000000008",
                                      "RIP: 0010:dax_insert_pfn_mkwrite+0x20/0x1a0"])
        #expect(document.problems == ["the plan 1..3 does not match the 1 result"])
    }

    @Test func outputCutInsideAKselftest() {
        let nested = KTAPDocument.parse("TAP version 13\n1..2\n# selftests: vm: a\nok 1 selftests: vm: a\n# selftests: vm: hugetlb_dax\n# TAP version 13\n# 1..3\n# ok 1 map\n# doing the fault\n")
        #expect(nested.running == "hugetlb_dax" && nested.runningPlan == 3)
        #expect(nested.runningSubtests.map(\.name) == ["map"])
        #expect(nested.trailing == ["selftests: vm: hugetlb_dax", "doing the fault"])
        let script = KTAPDocument.parse("TAP version 13\n1..2\nok 1 selftests: vm: a\n# selftests: net/forwarding: run_vmtests.sh\n# running ./hugepage-mmap\n")
        #expect(script.running == "run_vmtests.sh" && script.runningSubtests == [])
        #expect(script.trailing == ["selftests: net/forwarding: run_vmtests.sh", "running ./hugepage-mmap"])
        let tap14 = KTAPDocument.parse("TAP version 14\n1..2\n# Subtest: b\n    1..2\n    ok 1 - x\n")
        #expect(tap14.running == "b" && tap14.runningSubtests.map(\.name) == ["x"] && tap14.results == [])
        let finished = KTAPDocument.parse("TAP version 13\n1..1\n# selftests: vm: a\nok 1 selftests: vm: a\n")
        #expect(finished.running == nil && finished.trailing == [])
    }

    @Test func noKTAPAtAll() {
        let document = KTAPDocument.parse("Linux version 6.1.0\n  hello\0world\n\n")
        #expect(document.isEmpty)
        #expect(document.results == [] && document.version == nil && document.plan == nil)
        #expect(document.trailing == ["Linux version 6.1.0", "  hello\0world"])
        #expect(document.problems == ["no KTAP or TAP output: no version line and no result"])
        #expect(KTAPDocument.parse("").problems == ["no KTAP or TAP output: no version line and no result"])
    }

    @Test func bailOutEndsTheRunButANestedOneOnlyItsProgram() {
        let top = KTAPDocument.parse("TAP version 13\n1..3\nok 1 a\nBail out! no /dev/pmem0\nok 2 b\n")
        #expect(top.bailOut == "no /dev/pmem0")
        #expect(top.results.map(\.name) == ["a"])
        let nested = KTAPDocument.parse("""
            TAP version 13
            1..2
            # selftests: vm: x
            # TAP version 13
            # 1..2
            # Bail out! mmap failed
            not ok 1 selftests: vm: x # exit=1
            ok 2 selftests: vm: y
            """)
        #expect(nested.bailOut == nil)
        #expect(nested.results.map(\.name) == ["selftests: vm: x", "selftests: vm: y"])
        #expect(nested.results[0].diagnostics == ["selftests: vm: x", "Bail out! mmap failed", "exit=1"])
        #expect(nested.problems == ["in 'selftests: vm: x': the plan 1..2 does not match the 0 results"])
    }

    @Test func diagnosticsKeepTheirLast200Lines() {
        let noisy = (1...250).map { "# line \($0)" }.joined(separator: "\n")
        let document = KTAPDocument.parse("KTAP version 1\n1..1\n\(noisy)\nok 1 noisy # rcode=1\n")
        let diagnostics = document.results.first?.diagnostics ?? []
        #expect(diagnostics.count == 201)
        #expect(diagnostics.first == "… 51 earlier lines dropped")
        #expect(diagnostics[1] == "line 52")
        #expect(diagnostics.last == "rcode=1")
    }

    @Test func twentyMegabytesOfJunkAndOverlongLinesAndDeepNesting() throws {
        // Invalid UTF-8 now and then only: repairing it is String(decoding:)'s time, not the parser's.
        var junk = [UInt8]()
        let block = Array("garbage \0\u{1}\u{7f} # ok not ok 1..x \u{FFFD}\n\t#\t# Subtest:\n".utf8)
        while junk.count < 20 << 20 { junk += junk.count % 1000 < block.count ? block + [0xff, 0xc3, 0x0a] : block }
        let document = KTAPDocument.parse(String(decoding: junk, as: UTF8.self))
        #expect(document.isEmpty && document.results == [])
        #expect(document.trailing.count == 201)

        let long = KTAPDocument.parse("ok 1 " + String(repeating: "x", count: 1 << 20) + "\nok 2 next\n")
        #expect(long.results.map(\.number) == [1, 2])
        #expect(long.results.first?.name.utf8.count == 64 * 1024 - 5)

        let depth = 40
        let opening = (0..<depth).map { String(repeating: " ", count: 4 * $0) + "KTAP version 1" }
        let closing = (0..<depth).reversed().map { String(repeating: " ", count: 4 * $0) + "ok 1 level\($0)" }
        let deep = KTAPDocument.parse((opening + closing).joined(separator: "\n"))
        #expect(deep.results.map(\.name) == ["level0"])
        var levels = 0
        var node = deep.results.first
        while let current = node { levels += 1; node = current.subtests.first }
        #expect(levels == KTAPReader.maxDepth + 1)
        let data = try JSONEncoder().encode(deep)
        #expect(try JSONDecoder().decode(KTAPDocument.self, from: data) == deep)
    }
}
