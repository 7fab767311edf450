/*
 * A stand-in for Windows' taskkill.exe that supports exactly what the runner calls:
 * `taskkill /pid N /T /F`. Wine's own taskkill has no /T, so the Windows test lane
 * (test/windows/) builds this with mingw-w64 to show the runner's real tree kill under Wine.
 * Exit codes follow taskkill: 0 killed, 128 no such process, 1 bad usage or a failed kill.
 */
#include <windows.h>
#include <tlhelp32.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static DWORD parents[65536], pids[65536];

int main(int argc, char **argv) {
  DWORD root = 0;
  int tree = 0, force = 0, count = 0, failed = 0;
  for (int i = 1; i < argc; i++) {
    if (!_stricmp(argv[i], "/pid") && i + 1 < argc) root = (DWORD)strtoul(argv[++i], NULL, 10);
    else if (!_stricmp(argv[i], "/t")) tree = 1;
    else if (!_stricmp(argv[i], "/f")) force = 1;
    else { fprintf(stderr, "taskkill: unsupported option %s\n", argv[i]); return 1; }
  }
  if (!root || !force) { fprintf(stderr, "usage: taskkill /pid N [/T] /F\n"); return 1; }
  /* One snapshot of the parent links before anything dies, so the whole tree is found. */
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  PROCESSENTRY32 entry = {.dwSize = sizeof entry};
  int n = 0;
  if (snap != INVALID_HANDLE_VALUE && Process32First(snap, &entry)) {
    do {
      pids[n] = entry.th32ProcessID;
      parents[n] = entry.th32ParentProcessID;
      n++;
    } while (n < 65536 && Process32Next(snap, &entry));
    CloseHandle(snap);
  }
  DWORD victims[65536];
  victims[count++] = root;
  /* Breadth-first over the parent links: children, grandchildren, ... */
  for (int v = 0; tree && v < count; v++)
    for (int i = 0; i < n; i++)
      if (parents[i] == victims[v] && pids[i] != victims[v] && count < 65536) victims[count++] = pids[i];
  int found = 0;
  for (int v = count - 1; v >= 0; v--) {
    HANDLE h = OpenProcess(PROCESS_TERMINATE, FALSE, victims[v]);
    if (!h) continue;
    found++;
    if (TerminateProcess(h, 1)) printf("SUCCESS: killed pid %lu\n", (unsigned long)victims[v]);
    else failed++;
    CloseHandle(h);
  }
  if (!found) { fprintf(stderr, "ERROR: the process %lu was not found.\n", (unsigned long)root); return 128; }
  return failed ? 1 : 0;
}
