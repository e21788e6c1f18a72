import Prometheus
import Synchronization

/// Request count and latency by route and status, exported at `GET /metrics`.
final class HTTPMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let counters = Mutex<[String: Counter]>([:])
    private let histograms = Mutex<[String: DurationHistogram]>([:])
    static var requests: MetricNameDescriptor { MetricNameDescriptor(namespace: "keel", subsystem: "http", metricName: "requests", unitName: "total",
                                               helpText: "HTTP requests by method, route and status.") }
    static var latency: MetricNameDescriptor { MetricNameDescriptor(namespace: "keel", subsystem: "http", metricName: "request_duration", unitName: "seconds",
                                              helpText: "HTTP request latency by method, route and status.") }
    static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
    ]

    func record(method: String, route: String, status: Int, duration: Duration) {
        let key = "\(method) \(route) \(status)"
        let labels = [("method", method), ("route", route), ("status", String(status))]
        let counter = counters.withLock { all in
            if let c = all[key] { return c }
            let c = registry.makeCounter(descriptor: HTTPMetrics.requests, labels: labels)
            all[key] = c
            return c
        }
        counter.increment()
        let histogram = histograms.withLock { all in
            if let h = all[key] { return h }
            let h = registry.makeDurationHistogram(descriptor: HTTPMetrics.latency, labels: labels, buckets: HTTPMetrics.buckets)
            all[key] = h
            return h
        }
        histogram.record(duration)
    }

    func export() -> String { registry.emitToString() }
}
