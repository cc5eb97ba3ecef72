package steer.orchestrator;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;

/**
 * A client span per outgoing gRPC call, child of the current span (the iteration's), with its context sent in
 * the call's metadata through the configured propagator (W3C {@code traceparent}), so the generator's server span
 * joins the iteration's trace. The channels are built here from {@link OrchestratorConfig} rather than by Quarkus,
 * so Quarkus's own client instrumentation does not apply to them.
 */
final class TracingClientInterceptor implements ClientInterceptor {

    private final OpenTelemetry otel;
    private final Tracer tracer;

    TracingClientInterceptor(OpenTelemetry otel) {
        this.otel = otel;
        this.tracer = otel.getTracer("steer.orchestrator");
    }

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        Span span = tracer.spanBuilder(method.getFullMethodName()).setSpanKind(SpanKind.CLIENT)
                .setAttribute("rpc.system", "grpc")
                .setAttribute("rpc.service", String.valueOf(method.getServiceName()))
                .setAttribute("rpc.method", String.valueOf(method.getBareMethodName()))
                .startSpan();
        Context context = Context.current().with(span);
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
            @Override
            public void start(Listener<R> listener, Metadata headers) {
                otel.getPropagators().getTextMapPropagator().inject(context, headers,
                        (carrier, key, value) -> carrier.put(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER), value));
                try (Scope ignored = context.makeCurrent()) {
                    super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
                        @Override
                        public void onClose(Status status, Metadata trailers) {
                            span.setAttribute("rpc.grpc.status_code", status.getCode().value());
                            if (!status.isOk()) {
                                span.setStatus(StatusCode.ERROR, status.getCode() + ": " + status.getDescription());
                            }
                            span.end();
                            super.onClose(status, trailers);
                        }
                    }, headers);
                }
            }
        };
    }
}
