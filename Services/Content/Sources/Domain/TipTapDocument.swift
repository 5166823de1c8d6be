import Foundation
import ServiceKit

/// A lesson body: a TipTap (ProseMirror) JSON document, checked against the schema the course's
/// editor uses — StarterKit's nodes and marks, plus links, underline and images — so that what is
/// stored is always something the editor and every renderer can open.
///
/// Checked: node types and where each may appear (block, inline, list item), required and allowed
/// attributes, mark types and their attributes, text nodes (non-empty, no children), and size
/// (depth, node count). Each problem names its place as a JSON pointer into the document.
public enum TipTapDocument {
    public struct Violation: Error, Equatable, Sendable {
        /// JSON pointer into the document, e.g. `/content/2/content/0`.
        public var path: String
        public var code: String
        public var message: String
    }

    public static let maximumDepth = 24
    public static let maximumNodes = 20_000

    /// Every problem of `document`, in document order (empty when it is a valid document).
    public static func violations(of document: JSONValue) -> [Violation] {
        var checker = Checker()
        checker.checkRoot(document)
        return checker.violations
    }

    enum Role { case block, inline, listItem }

    struct NodeSpec {
        var role: Role
        /// What the node may contain: nil for a leaf.
        var content: Content?
        var attributes: [String: Attribute] = [:]
        var marksAllowed = false
    }

    enum Content {
        /// Inline nodes, any number (paragraph, heading).
        case inline
        /// Text only, without marks (code block).
        case plainText
        /// One or more blocks.
        case blocks
        /// One or more list items.
        case listItems
        /// A paragraph, then blocks (list item).
        case paragraphThenBlocks
    }

    enum Attribute {
        case required(Kind)
        case optional(Kind)

        var kind: Kind {
            switch self {
            case .required(let kind), .optional(let kind): kind
            }
        }
    }

    enum Kind {
        case integer(ClosedRange<Int64>)
        case string(maxLength: Int)
        case url(schemes: Set<String>)
        case choice(Set<String>)
    }

    static let nodes: [String: NodeSpec] = [
        "paragraph": NodeSpec(role: .block, content: .inline, attributes: ["textAlign": .optional(.choice(["left", "center", "right", "justify"]))]),
        "heading": NodeSpec(
            role: .block, content: .inline,
            attributes: ["level": .required(.integer(1...6)), "textAlign": .optional(.choice(["left", "center", "right", "justify"]))]),
        "blockquote": NodeSpec(role: .block, content: .blocks),
        "bulletList": NodeSpec(role: .block, content: .listItems),
        "orderedList": NodeSpec(role: .block, content: .listItems, attributes: ["start": .optional(.integer(1...1_000_000)), "type": .optional(.string(maxLength: 8))]),
        "listItem": NodeSpec(role: .listItem, content: .paragraphThenBlocks),
        "codeBlock": NodeSpec(role: .block, content: .plainText, attributes: ["language": .optional(.string(maxLength: 40))]),
        "horizontalRule": NodeSpec(role: .block, content: nil),
        "image": NodeSpec(
            role: .block, content: nil,
            attributes: ["src": .required(.url(schemes: ["https", "http"])), "alt": .optional(.string(maxLength: 500)), "title": .optional(.string(maxLength: 500))]),
        "text": NodeSpec(role: .inline, content: nil, marksAllowed: true),
        "hardBreak": NodeSpec(role: .inline, content: nil),
    ]

    static let marks: [String: [String: Attribute]] = [
        "bold": [:],
        "italic": [:],
        "underline": [:],
        "strike": [:],
        "code": [:],
        "highlight": ["color": .optional(.string(maxLength: 32))],
        "link": [
            "href": .required(.url(schemes: ["https", "http", "mailto"])),
            "target": .optional(.choice(["_blank", "_self"])),
            "rel": .optional(.string(maxLength: 100)),
            "class": .optional(.string(maxLength: 100)),
        ],
    ]

    struct Checker {
        var violations: [Violation] = []
        var nodeCount = 0

        mutating func fail(_ path: String, _ code: String, _ message: String) {
            violations.append(Violation(path: path, code: code, message: message))
        }

        mutating func checkRoot(_ document: JSONValue) {
            guard let object = document.object else { return fail("", "not_a_document", "A TipTap document is a JSON object.") }
            guard object["type"]?.string == "doc" else { return fail("/type", "not_a_document", "The root node's type must be \"doc\".") }
            for key in object.keys where !["type", "content", "attrs"].contains(key) {
                fail("/\(key)", "unknown_field", "The document has no field \"\(key)\".")
            }
            if let attrs = object["attrs"], attrs.object?.isEmpty != true, !attrs.isNull {
                fail("/attrs", "unknown_attribute", "The document takes no attributes.")
            }
            checkChildren(object["content"], of: .blocks, path: "", depth: 1)
        }

        mutating func checkChildren(_ content: JSONValue?, of expected: Content, path: String, depth: Int) {
            let children: [JSONValue]
            switch content {
            case nil, .null?: children = []
            case .array(let array)?: children = array
            default: return fail("\(path)/content", "invalid_content", "content must be an array of nodes.")
            }
            switch expected {
            case .blocks, .listItems, .paragraphThenBlocks:
                if children.isEmpty { fail("\(path)/content", "empty_content", "This node needs at least one child.") }
            case .inline, .plainText: break
            }
            for (index, child) in children.enumerated() {
                let childPath = "\(path)/content/\(index)"
                let type = child["type"].string
                switch expected {
                case .inline:
                    if let type, let spec = nodes[type], spec.role != .inline {
                        fail(childPath, "misplaced_node", "\"\(type)\" is a block and cannot appear inside text.")
                        continue
                    }
                case .plainText:
                    if type != "text" {
                        fail(childPath, "misplaced_node", "A code block holds text only.")
                        continue
                    }
                    if let marks = child["marks"].array, !marks.isEmpty {
                        fail("\(childPath)/marks", "mark_not_allowed", "Text in a code block takes no marks.")
                    }
                case .blocks:
                    if let type, let spec = nodes[type], spec.role != .block {
                        fail(childPath, "misplaced_node", "\"\(type)\" cannot appear here; a block is expected.")
                        continue
                    }
                case .listItems:
                    if type != "listItem" {
                        fail(childPath, "misplaced_node", "A list holds list items only.")
                        continue
                    }
                case .paragraphThenBlocks:
                    if index == 0, type != "paragraph" {
                        fail(childPath, "misplaced_node", "A list item starts with a paragraph.")
                        continue
                    }
                    if let type, let spec = nodes[type], spec.role != .block {
                        fail(childPath, "misplaced_node", "\"\(type)\" cannot appear here; a block is expected.")
                        continue
                    }
                }
                checkNode(child, path: childPath, depth: depth + 1)
            }
        }

        mutating func checkNode(_ node: JSONValue, path: String, depth: Int) {
            nodeCount += 1
            if nodeCount == TipTapDocument.maximumNodes + 1 {
                return fail(path, "too_large", "A lesson body holds at most \(TipTapDocument.maximumNodes) nodes.")
            }
            if nodeCount > TipTapDocument.maximumNodes { return }
            guard depth <= TipTapDocument.maximumDepth else {
                return fail(path, "too_deep", "Nodes nest at most \(TipTapDocument.maximumDepth) levels deep.")
            }
            guard let object = node.object else { return fail(path, "invalid_node", "A node is a JSON object.") }
            guard let type = object["type"]?.string else { return fail("\(path)/type", "invalid_node", "A node needs a string type.") }
            guard let spec = TipTapDocument.nodes[type] else { return fail("\(path)/type", "unknown_node_type", "\"\(type)\" is not a node of this editor.") }
            for key in object.keys where !["type", "attrs", "content", "marks", "text"].contains(key) {
                fail("\(path)/\(key)", "unknown_field", "A node has no field \"\(key)\".")
            }
            checkAttributes(object["attrs"], spec.attributes, path: "\(path)/attrs", owner: type)
            if type == "text" {
                guard let text = object["text"]?.string, !text.isEmpty else {
                    return fail("\(path)/text", "empty_text", "A text node needs non-empty text.")
                }
                if object["content"] != nil { fail("\(path)/content", "leaf_has_content", "A text node has no children.") }
            } else if object["text"] != nil {
                fail("\(path)/text", "unknown_field", "Only text nodes carry text.")
            }
            if let marks = object["marks"], !marks.isNull {
                if spec.marksAllowed { checkMarks(marks, path: "\(path)/marks") } else if marks.array?.isEmpty != true {
                    fail("\(path)/marks", "mark_not_allowed", "\"\(type)\" takes no marks.")
                }
            }
            if let content = spec.content {
                checkChildren(object["content"], of: content, path: path, depth: depth)
            } else if let content = object["content"], content.array?.isEmpty != true, !content.isNull {
                fail("\(path)/content", "leaf_has_content", "\"\(type)\" has no children.")
            }
        }

        mutating func checkMarks(_ marks: JSONValue, path: String) {
            guard let list = marks.array else { return fail(path, "invalid_marks", "marks must be an array.") }
            var seen: Set<String> = []
            for (index, mark) in list.enumerated() {
                let markPath = "\(path)/\(index)"
                guard let object = mark.object, let type = object["type"]?.string else {
                    fail(markPath, "invalid_mark", "A mark is an object with a string type.")
                    continue
                }
                guard let attributes = TipTapDocument.marks[type] else {
                    fail("\(markPath)/type", "unknown_mark_type", "\"\(type)\" is not a mark of this editor.")
                    continue
                }
                if !seen.insert(type).inserted { fail(markPath, "duplicate_mark", "The mark \"\(type)\" appears twice.") }
                for key in object.keys where !["type", "attrs"].contains(key) {
                    fail("\(markPath)/\(key)", "unknown_field", "A mark has no field \"\(key)\".")
                }
                checkAttributes(object["attrs"], attributes, path: "\(markPath)/attrs", owner: type)
            }
        }

        mutating func checkAttributes(_ value: JSONValue?, _ allowed: [String: Attribute], path: String, owner: String) {
            let given: [String: JSONValue]
            switch value {
            case nil, .null?: given = [:]
            case .object(let object)?: given = object
            default: return fail(path, "invalid_attributes", "attrs must be an object.")
            }
            for key in given.keys.sorted() where allowed[key] == nil {
                fail("\(path)/\(key)", "unknown_attribute", "\"\(owner)\" has no attribute \"\(key)\".")
            }
            for (name, attribute) in allowed.sorted(by: { $0.key < $1.key }) {
                let attributePath = "\(path)/\(name)"
                guard let value = given[name], !value.isNull else {
                    if case .required = attribute { fail(attributePath, "missing_attribute", "\"\(owner)\" needs the attribute \"\(name)\".") }
                    continue
                }
                switch attribute.kind {
                case .integer(let range):
                    guard let number = value.int, range.contains(number) else {
                        fail(attributePath, "invalid_attribute", "\"\(name)\" must be a whole number from \(range.lowerBound) to \(range.upperBound).")
                        continue
                    }
                case .string(let maxLength):
                    guard let text = value.string, text.unicodeScalars.count <= maxLength else {
                        fail(attributePath, "invalid_attribute", "\"\(name)\" must be text of at most \(maxLength) characters.")
                        continue
                    }
                case .choice(let choices):
                    guard let text = value.string, choices.contains(text) else {
                        fail(attributePath, "invalid_attribute", "\"\(name)\" must be one of: \(choices.sorted().joined(separator: ", ")).")
                        continue
                    }
                case .url(let schemes):
                    guard let text = value.string, text.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
                        schemes.contains(scheme), scheme == "mailto" || url.host?.isEmpty == false
                    else {
                        fail(attributePath, "invalid_url", "\"\(name)\" must be an absolute \(schemes.sorted().joined(separator: " or ")) URL.")
                        continue
                    }
                }
            }
        }
    }
}
