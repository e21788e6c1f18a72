import Foundation

/// Response bodies list every field, `null` included, so clients see a stable shape (synthesized Encodable drops nils).
protocol ResponseDTO: Encodable, Sendable {}

struct DTOKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension ResponseDTO {
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: DTOKey.self)
        for child in Mirror(reflecting: self).children {
            guard let label = child.label else { continue }
            let key = DTOKey(label.hasPrefix("_") ? String(label.dropFirst()) : label)
            let inner = Mirror(reflecting: child.value)
            if inner.displayStyle == .optional {
                guard let wrapped = inner.children.first?.value else {
                    try c.encodeNil(forKey: key)
                    continue
                }
                if let e = wrapped as? any Encodable { try c.encode(e, forKey: key) }
            } else if let e = child.value as? any Encodable {
                try c.encode(e, forKey: key)
            }
        }
    }
}
