import Foundation
import ServiceKit
import Testing

@testable import Content

@Suite struct TipTapDocumentTests {
    func violations(_ json: String) throws -> [TipTapDocument.Violation] {
        TipTapDocument.violations(of: try JSONValue(parsing: Data(json.utf8)))
    }

    func codes(_ json: String) throws -> [String] { try violations(json).map(\.code) }

    @Test func aRichDocumentIsValid() throws {
        let document = """
            {"type":"doc","content":[
              {"type":"heading","attrs":{"level":2},"content":[{"type":"text","text":"Title"}]},
              {"type":"paragraph","content":[
                {"type":"text","text":"Read "},
                {"type":"text","text":"this","marks":[{"type":"bold"},{"type":"link","attrs":{"href":"https://example.com","target":"_blank"}}]},
                {"type":"hardBreak"},
                {"type":"text","text":"code","marks":[{"type":"code"}]}]},
              {"type":"paragraph"},
              {"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"one"}]},
                {"type":"orderedList","attrs":{"start":3},"content":[{"type":"listItem","content":[{"type":"paragraph"}]}]}]}]},
              {"type":"blockquote","content":[{"type":"paragraph","content":[{"type":"text","text":"quote"}]}]},
              {"type":"codeBlock","attrs":{"language":"swift"},"content":[{"type":"text","text":"let x = 1"}]},
              {"type":"horizontalRule"},
              {"type":"image","attrs":{"src":"https://cdn.example.com/a.png","alt":"A"}}
            ]}
            """
        #expect(try violations(document).isEmpty)
    }

    @Test func theRootMustBeADocWithBlocks() throws {
        #expect(try codes(#"[]"#) == ["not_a_document"])
        #expect(try codes(#"{"type":"paragraph"}"#) == ["not_a_document"])
        #expect(try codes(#"{"type":"doc","content":[]}"#) == ["empty_content"])
        #expect(try codes(#"{"type":"doc","content":[{"type":"text","text":"loose"}]}"#) == ["misplaced_node"])
    }

    @Test func unknownNodesMarksAndFieldsAreNamedWithTheirPlace() throws {
        let found = try violations(
            #"{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"x","marks":[{"type":"blink"}]}]},{"type":"video"},{"type":"paragraph","style":"x"}]}"#)
        #expect(found.map(\.code) == ["unknown_mark_type", "unknown_node_type", "unknown_field"])
        #expect(found.map(\.path) == ["/content/0/content/0/marks/0/type", "/content/1/type", "/content/2/style"])
    }

    @Test func nestingRulesAreEnforced() throws {
        #expect(try codes(#"{"type":"doc","content":[{"type":"bulletList","content":[{"type":"paragraph"}]}]}"#) == ["misplaced_node"])
        #expect(try codes(#"{"type":"doc","content":[{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"heading","attrs":{"level":1}}]}]}]}"#) == ["misplaced_node"])
        #expect(try codes(#"{"type":"doc","content":[{"type":"paragraph","content":[{"type":"paragraph"}]}]}"#) == ["misplaced_node"])
        #expect(try codes(#"{"type":"doc","content":[{"type":"listItem","content":[{"type":"paragraph"}]}]}"#) == ["misplaced_node"])
        #expect(try codes(#"{"type":"doc","content":[{"type":"codeBlock","content":[{"type":"text","text":"x","marks":[{"type":"bold"}]}]}]}"#) == ["mark_not_allowed"])
        #expect(try codes(#"{"type":"doc","content":[{"type":"horizontalRule","content":[{"type":"paragraph"}]}]}"#) == ["leaf_has_content"])
    }

    @Test func attributesAreChecked() throws {
        #expect(try codes(#"{"type":"doc","content":[{"type":"heading","content":[]}]}"#) == ["missing_attribute"])
        #expect(try codes(#"{"type":"doc","content":[{"type":"heading","attrs":{"level":7}}]}"#) == ["invalid_attribute"])
        #expect(try codes(#"{"type":"doc","content":[{"type":"image","attrs":{"src":"javascript:alert(1)"}}]}"#) == ["invalid_url"])
        #expect(try codes(#"{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"x","marks":[{"type":"link","attrs":{"href":"javascript:alert(1)"}}]}]}]}"#) == ["invalid_url"])
        #expect(try codes(#"{"type":"doc","content":[{"type":"paragraph","attrs":{"colour":"red"}}]}"#) == ["unknown_attribute"])
    }

    @Test func textNodesNeedTextAndMarksOnce() throws {
        #expect(try codes(#"{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":""}]}]}"#) == ["empty_text"])
        #expect(try codes(#"{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"x","marks":[{"type":"bold"},{"type":"bold"}]}]}]}"#) == ["duplicate_mark"])
    }

    @Test func depthIsBounded() throws {
        var node = #"{"type":"paragraph"}"#
        for _ in 0..<30 { node = #"{"type":"blockquote","content":[\#(node)]}"# }
        #expect(try codes(#"{"type":"doc","content":[\#(node)]}"#).contains("too_deep"))
    }

    @Test func theDemoCourseIsValid() {
        for module in DemoCourse.modules {
            for lesson in module.lessons {
                #expect(TipTapDocument.violations(of: DemoCourse.body(lesson)).isEmpty, "\(lesson.title)")
            }
        }
        #expect(TipTapDocument.violations(of: CourseStore.emptyBody).isEmpty)
    }
}
