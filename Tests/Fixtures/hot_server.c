/* A one-process HTTP server for the container crash-forensics test, built static so it runs in
 * an image made by `docker import` of a root holding only it:
 *   GET /health      200 ok
 *   GET /work?ms=N   burns N ms of CPU in tugboat_hot_loop (the function the flame graph must name)
 *   GET /crash       exit(3) at once
 * Listens on $PORT (default 8080). One request per connection. With $EXIT_AT_START it exits with
 * that status half a second after it starts, without ever listening: it never turns healthy, so
 * no profiler attaches to it (exiting at once would race the provider's look at its ports). */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

__attribute__((noinline)) double tugboat_hot_loop(int ms) {
    double end = now_ms() + ms, x = 1;
    while (now_ms() < end)
        for (int i = 0; i < 10000; i++) x = x * 1.0000001 + 0.0000001;
    return x;
}

static void answer(int fd, const char *body) {
    char out[256];
    int n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
    (void)!write(fd, out, n);
}

int main(void) {
    if (getenv("EXIT_AT_START")) {
        usleep(500000);
        return atoi(getenv("EXIT_AT_START"));
    }
    const char *port = getenv("PORT");
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port ? atoi(port) : 8080), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 64)) { perror("listen"); return 1; }
    for (;;) {
        int c = accept(s, 0, 0);
        if (c < 0) continue;
        char req[2048];
        ssize_t n = read(c, req, sizeof req - 1);
        req[n > 0 ? n : 0] = 0;
        if (!strncmp(req, "GET /crash", 10)) exit(3);
        const char *ms = strstr(req, "ms=");
        if (!strncmp(req, "GET /work", 9)) {
            char text[64];
            snprintf(text, sizeof text, "worked %.0f\n", tugboat_hot_loop(ms ? atoi(ms + 3) : 10) > 0 ? 1.0 : 0.0);
            answer(c, text);
        } else {
            answer(c, "ok\n");
        }
        close(c);
    }
}
