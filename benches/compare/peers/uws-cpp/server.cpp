// uWebSockets (C++) echo and broadcast servers for the side-by-side comparison, built by
// build.sh against the uWebSockets and uSockets sources that a crates.io package vendors.
// Usage: uws-server echo|broadcast PORT [deflate]
// - echo: every message is sent back with its opcode;
// - broadcast: every client subscribes to one topic; every message is published to it with
//   `app.publish` (the sender included), with its opcode;
// - deflate: permessage-deflate with SHARED_COMPRESSOR (no context takeover on the server side).
#include "App.h"

#include <cstdio>
#include <cstdlib>
#include <string>

struct PerSocket {};

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: uws-server echo|broadcast PORT [deflate]\n");
        return 2;
    }
    const std::string mode = argv[1];
    const int port = std::atoi(argv[2]);
    const bool deflate = argc > 3 && std::string(argv[3]) == "deflate";
    const bool broadcast = mode == "broadcast";
    if (!broadcast && mode != "echo") {
        std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
        return 2;
    }
    uWS::App app;
    uWS::App *appPtr = &app;
    app.ws<PerSocket>("/*", {
        .compression = deflate ? uWS::SHARED_COMPRESSOR : uWS::DISABLED,
        .maxPayloadLength = 64u << 20,
        .idleTimeout = 0,
        .maxBackpressure = 256u << 20,
        .closeOnBackpressureLimit = false,
        .resetIdleTimeoutOnSend = false,
        .sendPingsAutomatically = false,
        .open = [broadcast](auto *ws) {
            if (broadcast) {
                ws->subscribe("all");
            }
        },
        .message = [broadcast, appPtr](auto *ws, std::string_view message, uWS::OpCode opCode) {
            if (broadcast) {
                appPtr->publish("all", message, opCode, true);
            } else {
                ws->send(message, opCode, true);
            }
        },
    }).listen("127.0.0.1", port, [port, &mode](auto *token) {
        if (!token) {
            std::fprintf(stderr, "uWebSockets could not listen on %d\n", port);
            std::exit(1);
        }
        std::fprintf(stderr, "uWebSockets %s listening on 127.0.0.1:%d\n", mode.c_str(), port);
    }).run();
    return 0;
}
