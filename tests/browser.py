"""Driving Debian's headless Chromium with Debian's Selenium (python3-selenium, chromium-driver): shared by the
dashboard's browser test and its benchmark. Runs under /usr/bin/python3 (where Debian installs Selenium). The browser
is told not to reach the internet; every request it makes is read back from its performance log."""
import json
import os
import shutil
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"


def available():
    """None when the browser can run, else what to install."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        return "apt-get install chromium chromium-driver python3-selenium"
    return None


class Browser:
    def __init__(self, width=1280, height=900):
        self.profile = tempfile.mkdtemp(prefix="fabtel-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-default-apps", "--no-first-run",
                  "--disable-extensions", "--metrics-recording-only", "--window-size=%d,%d" % (width, height),
                  "--user-data-dir=" + self.profile):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.d = webdriver.Chrome(service=Service(DRIVER), options=opts)
        self.d.set_page_load_timeout(60)
        self.requests, self.console = [], []
        self.d.get("about:blank")  # what the browser opened by itself (its new-tab page) is not the page's doing
        self.drain_logs()
        self.requests.clear()
        self.console.clear()

    def close(self):
        try:
            self.d.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def wait(self, script, timeout=30, step=0.1):
        """Poll a JavaScript expression until it is truthy; its value, or None at the deadline."""
        end = time.time() + timeout
        while time.time() < end:
            v = self.js("return (" + script + ");")
            if v:
                return v
            time.sleep(step)
        return None

    def drain_logs(self):
        """Collect the console messages and the URLs requested since the last call."""
        for e in self.d.get_log("browser"):
            self.console.append(e)
        sizes = 0
        for e in self.d.get_log("performance"):
            m = json.loads(e["message"])["message"]
            if m["method"] == "Network.requestWillBeSent":
                self.requests.append(m["params"]["request"]["url"])
            elif m["method"] == "Network.loadingFinished":
                sizes += m["params"].get("encodedDataLength", 0)
        return sizes

    def screenshot(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.d.save_screenshot(path)
