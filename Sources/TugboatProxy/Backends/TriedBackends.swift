/// The backends one request has been sent to. The first needs no allocation (most requests
/// never retry); retries go into an array.
struct TriedBackends: ExpressibleByArrayLiteral {
    private var first: ProxyBackend?
    private var others: [ProxyBackend] = []

    init(arrayLiteral elements: ProxyBackend...) {
        for element in elements { append(element) }
    }

    var count: Int { first == nil ? 0 : 1 + others.count }
    var isEmpty: Bool { first == nil }

    mutating func append(_ backend: ProxyBackend) {
        if first == nil { first = backend } else { others.append(backend) }
    }

    func contains(_ backend: ProxyBackend) -> Bool {
        first === backend || others.contains { $0 === backend }
    }
}
