"""Views a Django service would have: one calling track(), login and logout."""

from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, JsonResponse
from django.urls import path

import duckspool


def page(request: HttpRequest) -> JsonResponse:
    accepted = duckspool.track("action.page.viewed", {"page": "home"})
    ctx = duckspool.current_context()
    return JsonResponse({"accepted": accepted, "user": ctx.user_id, "session": ctx.session_id,
                         "correlation": ctx.correlation_id})


def sign_in(request: HttpRequest) -> JsonResponse:
    user = authenticate(request, username=request.POST["username"],
                        password=request.POST["password"])
    if user is None:
        return JsonResponse({"ok": False}, status=401)
    login(request, user)
    duckspool.track("action.page.viewed", {"page": "welcome"})  # as the new user and session
    return JsonResponse({"ok": True})


def sign_out(request: HttpRequest) -> JsonResponse:
    logout(request)
    return JsonResponse({"ok": True})


urlpatterns = [
    path("page/", page),
    path("login/", sign_in),
    path("logout/", sign_out),
]
